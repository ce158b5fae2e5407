package io.falconmamba.core.kernels;

/**
 * How the batched 16-bit kernels widen F16 halves held two to an int lane: the half's sign, exponent and mantissa
 * moved to float position with an arithmetic shift and {@link #FIELDS}, then {@link #SCALED} added to the exponent.
 * That is three integer operations per vector and exact for every normal half.
 *
 * <p>Halves with a zero exponent field (zeros and subnormals) have no implicit leading one, so the added exponent
 * gives them a wrong value, and the plain fields (the half times 2^-112) would be a denormal float. Denormal
 * operands cost Intel cores a microcode assist of about a hundred cycles per multiply or FMA (AMD cores take them
 * at full speed), and F16 weights of the usual scale hold a few subnormals per thousand. Where each widened vector
 * feeds an FMA (decode, batch decode, short prefill chunks, the packed layout), that makes F16 several times
 * slower than BF16; so those kernels test the stored pairs for a zero exponent field ({@link #PAIR_EXPONENTS} as
 * 16-bit lanes, one test per vector) and send the rare vector that has one through the patch below, exact through a
 * subtraction of two normal floats. The rows left over after {@link MatVec}'s four-row passes widen with the CPU's
 * half-to-float instruction instead (see {@link MatVec#HALF_CHUNK}), and the tiles of {@link MatMul} multiply once
 * per widened weight.
 *
 * <p>The test and the patch are written out at each site: a helper taking or returning vectors is not always
 * inlined into the large kernels (C2's node-count cutoff, or the size limit for a rarely taken branch), and then it
 * boxes every vector it touches.
 */
final class F16Fields {

    /** Sign, exponent and mantissa of a half shifted into float position (the smeared sign copies dropped). */
    static final int FIELDS = 0x8FFFE000;

    /** The exponent fields of both halves of a stored pair: a 16-bit lane of the AND is zero for a zero or subnormal. */
    static final int PAIR_EXPONENTS = 0x7C007C00;

    /**
     * Added to the fields: the half times 2^-{@link #SCALE}, a normal float for every finite normal half. The
     * packed kernels scale x by 2^{@link #SCALE} ({@link PackedMatMul}) or take x as {@link MatVec#split} scales
     * it for the plain fields and multiply their sums by {@link #SCALED_SUMS} ({@link BatchMatVec}).
     */
    static final int SCALED = 14 << 23;

    /** The power of two {@link #SCALED} moves from the weights to x. */
    static final int SCALE = 112 - 14;

    /** What takes sums of {@link #SCALED} weights against x split for the plain fields back to their scale. */
    static final float SCALED_SUMS = 0x1p-14f;

    /** Added to the fields: the half's value ({@link Convert#toFloats}). */
    static final int EXACT = 112 << 23;

    private F16Fields() {}

    /*
     * The patch, written out at each site for a vector w of widened halves (fields + rebias) whose pairs hold a
     * zero exponent field: those lanes read 2^(k-127)·(1 + m/1024), k the rebias exponent; raised one more, they read
     * 2^(k-126)·(1 + m/1024), and subtracting the 2^(k-126) (the same bits without mantissa) leaves m·2^(k-136), the
     * subnormal's value at the kernel's scale, both operands normal; the sign is put back so -0 stays -0.
     *
     *   bits = w.reinterpretAsInts(); raised = bits.add(1 << 23);
     *   w = w.blend((raised - (raised & 0xFF800000)) | (bits & 0x80000000),
     *               (bits & 0x7F800000) == rebias)
     */
}
