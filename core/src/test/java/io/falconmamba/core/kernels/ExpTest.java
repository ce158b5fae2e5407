package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * {@link Exp} against {@link Math#exp} (double, rounded to float by the comparison's tolerance). The bound
 * 2e-7 is under two float ulps (2^-23 ≈ 1.19e-7 relative at the top of a binade): a wrong polynomial coefficient,
 * a reduction that loses the low part of ln2 (≈ 5e-6 error at |x| = 80) or an off-by-one exponent fails it.
 */
class ExpTest {

    static float exp(float x) {
        return Exp.exp(FloatVector.broadcast(F, x)).lane(0);
    }

    @Test
    void matchesMathExpAcrossTheFloatRange() {
        double worst = 0;
        int lanes = F.length();
        float[] xs = new float[lanes];
        float[] out = new float[lanes];
        for (double v = Exp.MIN; v <= Exp.MAX; v += 1.37e-4 * lanes) {
            for (int l = 0; l < lanes; l++) {
                xs[l] = (float) Math.min(Exp.MAX, v + 1.37e-4 * l);
            }
            Exp.exp(FloatVector.fromArray(F, xs, 0)).intoArray(out, 0);
            for (int l = 0; l < lanes; l++) {
                double want = Math.exp(xs[l]);
                double rel = Math.abs(out[l] - want) / want;
                assertTrue(rel < 2e-7, "exp(" + xs[l] + ") = " + out[l] + ", want " + want + " (rel " + rel + ")");
                worst = Math.max(worst, rel);
            }
        }
        assertTrue(worst > 1e-9, "the sweep compared something: worst " + worst);
    }

    @Test
    void edges() {
        assertEquals(1f, exp(0f));
        assertEquals(1f, exp(-0f));
        // Clamped below and above the float range: within one smallest normal of the true value, and huge.
        for (float x : new float[] {-88f, -1e30f, Float.NEGATIVE_INFINITY}) {
            float e = exp(x);
            assertTrue(e >= 0f && e <= 1.2e-38f, "exp(" + x + ") = " + e);
        }
        for (float x : new float[] {89f, 1e30f, Float.POSITIVE_INFINITY}) {
            assertTrue(exp(x) >= 3.4e38f, "exp(" + x + ") = " + exp(x));
        }
        assertTrue(Float.isNaN(exp(Float.NaN)));
        assertEquals((float) Math.E, exp(1f), Math.ulp((float) Math.E));
    }
}
