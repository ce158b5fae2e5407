package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.VectorSpecies;

/**
 * How the 16-bit kernels widen F16 halves held two to an int lane: the half's sign, exponent and mantissa moved
 * to float position with an arithmetic shift and {@link #FIELDS}, then {@link #SCALED} or {@link #EXACT} added to
 * the exponent. That is three integer operations per vector and exact for every normal half.
 *
 * <p>Halves with a zero exponent field (zeros and subnormals) have no implicit leading one, so the added exponent
 * gives them a wrong value, and the plain fields (the half times 2^-112) would be a denormal float. Denormal
 * operands cost Intel cores a microcode assist of about a hundred cycles per multiply or FMA; F16 weights of the
 * usual scale hold a few subnormals per thousand, enough to make F16 decode several times slower there (AMD cores
 * take them at full speed). So each kernel tests the stored pairs for a zero exponent field ({@link #PAIR_EXPONENTS}
 * as 16-bit lanes, one test per vector) and sends the rare vector that has one through {@link Scratch#patch},
 * which sets those lanes exactly in scalar code.
 *
 * <p>The test and the patch are written out at each site, the patch through arrays: a helper taking or returning
 * vectors is not always inlined into the large kernels (C2's node-count cutoff), and then it boxes every vector.
 */
final class F16Fields {

    /** Sign, exponent and mantissa of a half shifted into float position (the smeared sign copies dropped). */
    static final int FIELDS = 0x8FFFE000;

    /** The exponent fields of both halves of a stored pair; a 16-bit lane of pairs AND this is zero for a zero or subnormal half. */
    static final int PAIR_EXPONENTS = 0x7C007C00;

    /**
     * Added to the fields: the half times 2^-{@link #SCALE}. The decode kernels scale x by 2^{@link #SCALE}
     * instead (see {@link MatVec#split}); the products are those of the exact weights, and both factors are
     * normal floats for every finite half.
     */
    static final int SCALED = 14 << 23;

    /** The power of two the decode kernels move from the weights to x. */
    static final int SCALE = 112 - 14;

    /** Added to the fields: the half's value (tile widening, where each weight is widened once per tile). */
    static final int EXACT = 112 << 23;

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private F16Fields() {}

    /** This thread's patch arrays. */
    static Scratch scratch() {
        return SCRATCH.get();
    }

    /** One vector of stored pairs and one of widened halves, for the scalar patch. */
    static final class Scratch {
        final int[] pairs = new int[I.length()];
        final float[] widened = new float[F.length()];

        /**
         * Sets each lane of {@link #widened} whose half (the low one of the pair when {@code even}, else the high
         * one) has a zero exponent to the half's exact value at the kernel's scale: {@code rebias} is
         * {@link #SCALED} or {@link #EXACT}. {@link Float#float16ToFloat} gives a normal float for every subnormal
         * half, and the power-of-two scale keeps it normal and exact.
         */
        void patch(boolean even, int rebias) {
            float scale = Math.scalb(1f, (rebias >> 23) - 112);
            for (int i = 0; i < widened.length; i++) {
                short half = (short) (even ? pairs[i] : pairs[i] >>> 16);
                if ((half & 0x7C00) == 0) {
                    widened[i] = Float.float16ToFloat(half) * scale;
                }
            }
        }
    }
}
