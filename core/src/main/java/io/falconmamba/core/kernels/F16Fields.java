package io.falconmamba.core.kernels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the batched 16-bit kernels widen F16 halves held two to an int lane: the half's sign, exponent and mantissa
 * moved to float position with an arithmetic shift and {@link #FIELDS}, then {@link #SCALED} added to the exponent.
 * That is three integer operations per vector and exact for every normal half.
 *
 * <p>Halves with a zero exponent field (zeros and subnormals) have no implicit leading one, so the added exponent
 * gives them a wrong value, and the plain fields (the half times 2^-112) would be a denormal float. What that costs
 * depends on the CPU, and {@link #PLAIN_FIELDS} decides it once:
 *
 * <ul>
 *   <li>Intel cores take a microcode assist of about a hundred cycles per multiply or FMA with a denormal operand,
 *       and F16 weights of the usual scale hold a few subnormals per thousand. So there the kernels add
 *       {@link #SCALED_EXPONENT} and test the stored pairs for a zero exponent field ({@link #PAIR_EXPONENTS} as
 *       16-bit lanes, one test per vector), sending the rare vector that has one through the patch below, exact
 *       through a subtraction of two normal floats.
 *   <li>AMD cores take denormal operands at full speed, and there the test and its branch are most of the cost: on
 *       an AMD EPYC Zen 5 (AVX-512, 2 threads), fm-1.4b F16 decode ran at 14.6-17.2 tok/s with the plain fields
 *       against 11.3-13.7 rebiased and patched, alternating runs of one build. So there nothing is added
 *       ({@link #SCALED} is 0) and the patch's branch is never taken: the plain fields are exact for every half.
 * </ul>
 *
 * <p>The rows left over after {@link MatVec}'s four-row passes widen with the CPU's half-to-float instruction instead
 * (see {@link MatVec#HALF_CHUNK}), and the tiles of {@link MatMul} multiply once per widened weight.
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
     * Whether the kernels multiply the plain fields (a denormal float for a zero or subnormal half) rather than
     * rebiased ones and the patch: true on AMD CPUs (see the class comment). {@code -Dfalconmamba.f16Widening=plain}
     * or {@code =rebiased} overrides; either way every half multiplies exactly.
     */
    static final boolean PLAIN_FIELDS = plainFields();

    /** The exponent the rebiased widening adds: the half times 2^-98, a normal float for every finite normal half. */
    private static final int SCALED_EXPONENT = 14;

    /**
     * Added to the fields by the decode kernels: {@link #SCALED_EXPONENT} in the exponent, or nothing with
     * {@link #PLAIN_FIELDS}. The packed kernels scale x by 2^{@link #SCALE} ({@link PackedMatMul}) or take x as
     * {@link MatVec#split} scales it for the plain fields and multiply their sums by {@link #SCALED_SUMS}
     * ({@link BatchMatVec}).
     */
    static final int SCALED = PLAIN_FIELDS ? 0 : SCALED_EXPONENT << 23;

    /** The power of two the widened weights miss, which x carries instead: 112 less what {@link #SCALED} adds. */
    static final int SCALE = 112 - (SCALED >>> 23);

    /** What takes sums of {@link #SCALED} weights against x split for the plain fields back to their scale. */
    static final float SCALED_SUMS = Math.scalb(1f, -(SCALED >>> 23));

    /** Added to the fields: the half's value ({@link Convert#toFloats}). */
    static final int EXACT = 112 << 23;

    private F16Fields() {}

    private static boolean plainFields() {
        String asked = System.getProperty("falconmamba.f16Widening", "");
        return switch (asked) {
            case "plain" -> true;
            case "rebiased" -> false;
            case "" -> cpuVendor().equals("AuthenticAMD") || cpuVendor().equals("HygonGenuine");
            default ->
                throw new IllegalArgumentException(
                        "falconmamba.f16Widening must be plain or rebiased, got '" + asked + "'");
        };
    }

    /** The x86 vendor string from /proc/cpuinfo (Linux), or "" where there is none. */
    private static String cpuVendor() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip())
                    .findFirst()
                    .orElse("");
        } catch (IOException | UncheckedIOException | SecurityException e) {
            return "";
        }
    }

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
