package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * {@link Log#log1p} against {@link Math#log1p}. The bound 3e-7 relative is under three
 * float ulps: a wrong coefficient, a lost low part of ln2 (≈ 4e-6 at u = 1e8), the √½ split off by one binade, or
 * dropping the correction for the rounding of 1 + u (which is all of the answer for u below 6e-8) fails it.
 */
class LogTest {

    static float log1p(float u) {
        return Log.log1p(FloatVector.broadcast(F, u)).lane(0);
    }

    @Test
    void matchesMathLog1pFromTinyToHuge() {
        double worst = 0;
        int lanes = F.length();
        float[] us = new float[lanes];
        float[] out = new float[lanes];
        // Geometric steps from 1e-30 to 5e8 (e^20, the largest softplus feeds it), a few thousand per decade.
        double step = Math.pow(10, 1.0 / 3000);
        for (double v = 1e-30; v < 5e8; v *= Math.pow(step, lanes)) {
            for (int l = 0; l < lanes; l++) {
                us[l] = (float) (v * Math.pow(step, l));
            }
            Log.log1p(FloatVector.fromArray(F, us, 0)).intoArray(out, 0);
            for (int l = 0; l < lanes; l++) {
                double want = Math.log1p(us[l]);
                double rel = Math.abs(out[l] - want) / want;
                assertTrue(rel < 3e-7, "log1p(" + us[l] + ") = " + out[l] + ", want " + want + " (rel " + rel + ")");
                worst = Math.max(worst, rel);
            }
        }
        assertTrue(worst > 1e-9, "the sweep compared something: worst " + worst);
    }

    @Test
    void edges() {
        assertEquals(0f, log1p(0f));
        assertEquals(1e-30f, log1p(1e-30f));
        assertEquals((float) Math.log(2), log1p(1f), Math.ulp((float) Math.log(2)));
        assertTrue(Float.isNaN(log1p(Float.NaN)));
    }
}
