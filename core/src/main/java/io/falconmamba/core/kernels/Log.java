package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code log(1 + u)} on float vectors for {@code u ≥ 0}, inline, for softplus. The Vector API's LOG1P (and EXP)
 * are calls into a vector math library when compiled and {@link Math} per lane when interpreted, and the two
 * round differently: the same prompt gave different logits before and after warm-up.
 *
 * <p>{@code w = 1 + u} rounded, split as {@code w = m·2^e} with {@code m ∈ [√½, √2)}; {@code log(m)} by
 * Cephes' degree-9 polynomial for logf in {@code m - 1}; {@code e·ln2} with ln2 split in two. The rounding of
 * {@code 1 + u} is put back by {@code (u - (w - 1)) / w}, which keeps tiny u exact ({@code log1p(u) = u}).
 * Relative error below 3e-7, checked against {@link Math#log1p} in the tests.
 */
final class Log {

    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /**
     * The polynomial's coefficients, highest first. A loop over them rather than the Horner steps written out:
     * written out, log1p was 349 bytes of bytecode, over C2's limit for inlining a hot call (325), so softplus
     * called it with boxed vectors.
     */
    private static final float[] POLY = {
        7.0376836292e-2f,
        -1.1514610310e-1f,
        1.1676998740e-1f,
        -1.2420140846e-1f,
        1.4249322787e-1f,
        -1.6668057665e-1f,
        2.0000714765e-1f,
        -2.4999993993e-1f,
        3.3333331174e-1f,
    };

    private Log() {}

    /** For {@code u ≥ 0} (below 2^127); NaN stays NaN. */
    static FloatVector log1p(FloatVector u) {
        FloatVector w = u.add(1f);
        IntVector bits = w.reinterpretAsInts();
        // m in [0.5, 1) with w = m·2^(e+1); below √½ it is doubled so m - 1 stays small either way.
        IntVector e = bits.lanewise(VectorOperators.LSHR, 23).sub(127);
        FloatVector m = bits.and(0x007FFFFF).or(0x3F000000).reinterpretAsFloats();
        VectorMask<Float> low = m.compare(VectorOperators.LT, SQRT_HALF);
        FloatVector f = m.add(m.blend(0f, low.not())).sub(1f);
        FloatVector k = ((FloatVector) e.convertShape(VectorOperators.I2F, F, 0))
                .add(FloatVector.broadcast(F, 1f).blend(0f, low));
        FloatVector z = f.mul(f);
        FloatVector p = FloatVector.broadcast(F, POLY[0]);
        for (int i = 1; i < POLY.length; i++) {
            p = p.fma(f, FloatVector.broadcast(F, POLY[i]));
        }
        FloatVector r = p.mul(f).mul(z);
        r = k.fma(FloatVector.broadcast(F, LN2_LO), r);
        r = z.fma(FloatVector.broadcast(F, -0.5f), r);
        r = f.add(r);
        r = k.fma(FloatVector.broadcast(F, LN2_HI), r);
        // What rounding 1 + u lost: log(1 + u) = log(w) + log(1 + δ/w) ≈ log(w) + δ/w, δ = u - (w - 1).
        return r.add(u.sub(w.sub(1f)).div(w));
    }
}
