package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * How the 16-bit kernels widen F16 halves held two to an int lane: the half's sign, exponent and mantissa moved
 * to float position with an arithmetic shift and {@link #FIELDS}, then {@link #SCALED} or {@link #EXACT} added to
 * the exponent. That is three integer operations per vector and exact for every normal half.
 *
 * <p>Halves with a zero exponent field (zeros and subnormals) have no implicit leading one, so the added exponent
 * gives them a wrong value, and the plain fields (the half times 2^-112) would be a denormal float. Denormal
 * operands cost Intel cores a microcode assist of about a hundred cycles per multiply or FMA; random F16 weights
 * of the usual scale hold a few subnormals per thousand, enough to make decode several times slower there (AMD
 * cores take them at full speed). So the kernels test each vector for a zero exponent field and send the rare
 * one through {@link #patch}, which is exact through a subtraction of two normal floats.
 */
final class F16Fields {

    /** Sign, exponent and mantissa of a half shifted into float position (the smeared sign copies dropped). */
    static final int FIELDS = 0x8FFFE000;

    /** A half's exponent field in float position. */
    static final int EXPONENT = 0x0F800000;

    /** The exponent fields of both halves of a stored pair: a lane with either zero takes {@link #patch}. */
    static final int PAIR_EXPONENTS = 0x7C007C00;

    /**
     * Added to the fields: the half times 2^-{@link #SCALE}. The decode kernels scale x by 2^{@link #SCALE}
     * instead (see {@link MatVec#split}); products are the same as from the exact weights, and both factors stay
     * normal floats for every half and every x the scale allows.
     */
    static final int SCALED = 14 << 23;

    /** The power of two the decode kernels move from the weights to x. */
    static final int SCALE = 112 - 14;

    /** Added to the fields: the half's value (tile widening, where each weight is widened once per tile). */
    static final int EXACT = 112 << 23;

    private F16Fields() {}

    /**
     * {@code widened} ({@code fields + rebias}) with its zero-exponent lanes replaced by their exact value: with
     * the exponent raised one more, the fields read as 2^k·(1 + m/1024), and subtracting the 2^k (the same bits
     * without mantissa) leaves m·2^(k-10), the subnormal's value at the same scale, and a zero keeps its sign.
     */
    static FloatVector patch(IntVector fields, FloatVector widened, int rebias) {
        VectorMask<Integer> zeroExponent = fields.and(EXPONENT).compare(VectorOperators.EQ, 0);
        IntVector raised = fields.add(rebias + (1 << 23));
        FloatVector exact = raised.reinterpretAsFloats()
                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                .reinterpretAsInts()
                .or(fields.and(0x80000000)) // a negative zero stays negative
                .reinterpretAsFloats();
        return widened.blend(exact, zeroExponent.cast(F));
    }

    /** Whether any lane of stored pairs holds a half with a zero exponent field (one test over 16-bit lanes). */
    static boolean anyZeroExponent(IntVector pairs) {
        return pairs.and(PAIR_EXPONENTS)
                .reinterpretAsShorts()
                .compare(VectorOperators.EQ, (short) 0)
                .anyTrue();
    }
}
