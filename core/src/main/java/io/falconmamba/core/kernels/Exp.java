package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code e^x} on float vectors, inline: the scan's decay {@code exp(Δ·A)} is one exponential per channel and state
 * index per token, and the Vector API's EXP is an out-of-line call that C2 does not inline into the scan loop.
 *
 * <p>Cody–Waite reduction {@code x = k·ln2 + f}, {@code |f| ≤ ln2/2}, with ln2 split in two so {@code f} is
 * exact; {@code e^f} by Cephes' degree-7 polynomial for expf; {@code 2^k} added into the exponent field. Relative
 * error below 2e-7 (under two ulps) on {@code [-87.3, 88.7]}, checked against {@link Math#exp} in the tests.
 * Arguments are clamped to that range (a compare and a blend each side) rather than the results tested and fixed
 * afterwards (which cost the scan a third of its time): below it the result is e^-87.34 ≈ 1.2e-38 (the smallest normal float, where the true value is
 * subnormal or zero), above it e^88.72 ≈ 3.4e38 (where the true value overflows); NaN stays NaN.
 */
final class Exp {

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    /** Above e^MIN's exponent -126, so 2^k stays a normal float (the polynomial is at least 0.7). */
    static final float MIN = -87.33654f;

    static final float MAX = 88.72283f;

    private Exp() {}

    static FloatVector exp(FloatVector x) {
        // Compare and blend rather than max/min: Java's max and min (NaN first, -0 below +0) take five AVX2
        // instructions each; these take two and give the same lanes, NaN included (no comparison holds for it).
        FloatVector c = x.blend(FloatVector.broadcast(F, MIN), x.compare(VectorOperators.LT, MIN));
        c = c.blend(FloatVector.broadcast(F, MAX), c.compare(VectorOperators.GT, MAX));
        FloatVector z = c.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector k = z.sub(ROUND);
        FloatVector f = k.fma(FloatVector.broadcast(F, -LN2_HI), c);
        f = k.fma(FloatVector.broadcast(F, -LN2_LO), f);
        FloatVector p = f.fma(FloatVector.broadcast(F, 1.9875691500e-4f), FloatVector.broadcast(F, 1.3981999507e-3f));
        p = p.fma(f, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(f, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(f, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(f, FloatVector.broadcast(F, 5.0000001201e-1f));
        p = p.fma(f.mul(f), f).add(1f);
        // k sits in z's low mantissa bits: shifted to the exponent field it multiplies p by 2^k.
        IntVector scale = z.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
        return p.reinterpretAsInts().add(scale).reinterpretAsFloats();
    }
}
