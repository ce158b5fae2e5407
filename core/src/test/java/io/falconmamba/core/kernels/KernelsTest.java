package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every Vector API kernel against its scalar twin on random inputs of awkward sizes (below, at and around the
 * vector length, and large), for every weight type.
 *
 * <p>Tolerances: the twin sums in double, the kernel in float32 with lane-wise partial sums. With inputs in
 * [-1, 1] a dot product of n terms has a float32 rounding error of about sqrt(n)·2^-24·|terms|, so a relative
 * bound of 1e-5 of the sum of |terms| (plus 1e-6 absolute) holds with large margin at n = 1000 while a wrong
 * index, a dropped tail element or a mis-decoded weight (errors of order one term, ≥ 1e-3) fails it.
 */
class KernelsTest {

    static final int[] SIZES = {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 1000};
    static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    /** The formats a {@link Matrix} stores, one weight per element. */
    static final Format[] ELEMENT_FORMATS = {Format.F32, Format.F16, Format.BF16};

    /** A random matrix stored in {@code type}, and its exact float values (after rounding to that type). */
    record Stored(Matrix matrix, float[][] values) {}

    static Stored randomMatrix(Random rnd, int rows, int cols, Format type) {
        MemorySegment seg = Arena.ofAuto()
                .allocate((long) rows * cols * type.blockBytes() + 1, 1)
                .asSlice(1, (long) rows * cols * type.blockBytes());
        float[][] values = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = rnd.nextFloat() * 2 - 1;
                long i = (long) r * cols + c;
                switch (type) {
                    case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 4, v);
                    case BF16 -> {
                        short bits = (short) (Float.floatToRawIntBits(v) >>> 16); // truncation: any bf16 value will do
                        seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 2, bits);
                        v = Float.intBitsToFloat((bits & 0xFFFF) << 16);
                    }
                    case F16 -> {
                        short bits = Float.floatToFloat16(v);
                        seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 2, bits);
                        v = Float.float16ToFloat(bits);
                    }
                }
                values[r][c] = v;
            }
        }
        return new Stored(new Matrix("w", rows, cols, type, seg), values);
    }

    /** An F16 matrix of magnitudes 2^-24 (the smallest subnormal half) to 2^15, both signs. */
    static Stored wideRangeF16(Random rnd, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2);
        float[][] values = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v =
                        (float) Math.scalb(rnd.nextDouble() + 0.5, rnd.nextInt(-24, 15)) * (rnd.nextBoolean() ? 1 : -1);
                short bits = Float.floatToFloat16(v);
                seg.set(
                        ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        ((long) r * cols + c) * 2,
                        bits);
                values[r][c] = Float.float16ToFloat(bits);
            }
        }
        return new Stored(new Matrix("w", rows, cols, Format.F16, seg), values);
    }

    static float[] randomVector(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextFloat() * 2 - 1;
        }
        return v;
    }

    static void assertClose(float expected, float actual, double scale, String what) {
        double tol = 1e-5 * scale + 1e-6;
        assertTrue(
                Math.abs(expected - actual) <= tol,
                what + ": expected " + expected + " got " + actual + " (tol " + tol + ")");
    }

    static double absDot(float[] w, float[] x) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += Math.abs((double) w[i] * x[i]);
        }
        return s;
    }

    static Stream<Arguments> typesAndSizes() {
        List<Arguments> out = new ArrayList<>();
        for (Format t : ELEMENT_FORMATS) {
            for (int cols : SIZES) {
                out.add(Arguments.of(t, cols));
            }
        }
        return out.stream();
    }

    /**
     * The four-row decode kernels (rows {@code gap} apart, as MatVec.STREAMS runs them on AVX2) called directly,
     * so they are checked whatever this machine's vector width picks for {@link MatVec#multiply}.
     */
    @ParameterizedTest(name = "{0} cols={1}")
    @MethodSource("typesAndSizes")
    void fourRowKernelsMatchScalar(Format type, int cols) {
        Random rnd = new Random(cols * 17L + type.ordinal());
        int rows = 14;
        int first = 1;
        int gap = 3; // rows 1, 4, 7, 10
        Stored w = randomMatrix(rnd, rows, cols, type);
        float[] x = randomVector(rnd, cols + 5);
        float[] xs = Arrays.copyOfRange(x, 5, cols + 5);
        MemorySegment xSplit = MatVec.allocateSplit(cols / 2);
        int e = MatVec.split(type, x, 5, cols / 2, xSplit);
        float[] out = new float[rows + 2];
        long rb = w.matrix().rowBytes();
        MemorySegment data = w.matrix().data();
        switch (type) {
            case F32 -> MatVec.dotF32x4(data, first * rb, gap * rb, x, 5, cols, out, 2 + first, gap, Lanes.scratch());
            case BF16 ->
                MatVec.dotBF16x4(data, first * rb, gap * rb, x, 5, xSplit, cols, out, 2 + first, gap, Lanes.scratch());
            case F16 ->
                MatVec.dotF16x4(
                        data,
                        first * rb,
                        gap * rb,
                        x,
                        5,
                        xSplit,
                        Math.scalb(F16Fields.SCALED_SUMS, e),
                        cols,
                        out,
                        2 + first,
                        gap);
        }
        float[] want = ScalarKernels.matVec(w.values(), xs);
        for (int k = 0; k < 4; k++) {
            int r = first + k * gap;
            assertClose(want[r], out[2 + r], absDot(w.values()[r], xs), type + " row " + r);
        }
        for (int r = 0; r < rows; r++) {
            if ((r - first) % gap != 0 || r > first + 3 * gap) {
                assertEquals(0f, out[2 + r], "row " + r + " is not one of the four and must stay unwritten");
            }
        }
    }

    @ParameterizedTest(name = "{0} cols={1}")
    @MethodSource("typesAndSizes")
    void matVecMatchesScalar(Format type, int cols) {
        Random rnd = new Random(cols * 31L + type.ordinal());
        for (int rows : new int[] {1, 5, 33}) {
            Stored w = randomMatrix(rnd, rows, cols, type);
            float[] x = randomVector(rnd, cols + 3);
            float[] xs = new float[cols];
            System.arraycopy(x, 3, xs, 0, cols);
            float[] out = new float[rows + 2];
            MatVec.multiply(w.matrix(), x, 3, out, 2, POOL);
            float[] want = ScalarKernels.matVec(w.values(), xs);
            for (int r = 0; r < rows; r++) {
                assertClose(want[r], out[2 + r], absDot(w.values()[r], xs), type + " row " + r);
            }
        }
    }

    /**
     * The F16 kernels move the half's 2^112 rebias into x, scaled by a power of two chosen from x's largest
     * magnitude: x from 2^-100 to 2^100 against halves from subnormal to 65504 must keep float32 relative
     * accuracy (a fixed scale would overflow x at the top or lose the small products at the bottom).
     */
    @ParameterizedTest(name = "x scale 2^{0}")
    @ValueSource(ints = {-100, -40, -12, 0, 12, 40, 100})
    void matVecF16KeepsAccuracyAcrossInputScales(int scale) {
        Random rnd = new Random(7 + scale);
        int rows = 9;
        int cols = 257;
        Stored w = wideRangeF16(rnd, rows, cols);
        float[][] values = w.values();
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = Math.scalb(rnd.nextFloat() * 2 - 1, scale);
        }
        float[] out = new float[rows];
        MatVec.multiply(w.matrix(), x, 0, out, 0, POOL);
        float[] want = ScalarKernels.matVec(values, x);
        for (int r = 0; r < rows; r++) {
            double tol = 1e-5 * absDot(values[r], x);
            assertTrue(
                    Math.abs(want[r] - out[r]) <= tol,
                    "row " + r + ": expected " + want[r] + " got " + out[r] + " (tol " + tol + ")");
        }
    }

    /** The batch kernel scales each token on its own: tokens 2^200 apart in one call keep float32 accuracy. */
    @Test
    void batchF16ScalesEachTokenOnItsOwn() {
        assertTokensScaledOnTheirOwn(
                new Random(11),
                8,
                257,
                new int[] {-100, 100, 0, -40, 40, 12, -12, 3},
                (w, x, tokens, out) -> MatrixProduct.multiply(w, x, 0, w.cols(), tokens, out, 0, w.rows(), POOL));
    }

    /** A product of {@code tokens} rows of x (stride cols) into out (stride rows). */
    interface TokensProduct {
        void multiply(Matrix w, float[] x, int tokens, float[] out);
    }

    /**
     * A wide-range F16 matrix against one token per entry of {@code scales}, token t's x of magnitude
     * 2^scales[t], all in one call: each token must keep float32 relative accuracy (1e-5 of Σ|w·x|).
     */
    static void assertTokensScaledOnTheirOwn(Random rnd, int rows, int cols, int[] scales, TokensProduct product) {
        Stored w = wideRangeF16(rnd, rows, cols);
        float[][] values = w.values();
        int tokens = scales.length;
        float[] x = new float[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < cols; c++) {
                x[t * cols + c] = Math.scalb(rnd.nextFloat() * 2 - 1, scales[t]);
            }
        }
        float[] out = new float[tokens * rows];
        product.multiply(w.matrix(), x, tokens, out);
        for (int t = 0; t < tokens; t++) {
            float[] xt = Arrays.copyOfRange(x, t * cols, (t + 1) * cols);
            float[] want = ScalarKernels.matVec(values, xt);
            for (int r = 0; r < rows; r++) {
                double tol = 1e-5 * absDot(values[r], xt);
                assertTrue(
                        Math.abs(want[r] - out[t * rows + r]) <= tol,
                        "token " + t + " (x scale 2^" + scales[t] + ") row " + r + ": expected " + want[r] + " got "
                                + out[t * rows + r] + " (tol " + tol + ")");
            }
        }
    }

    /**
     * BatchMatVec's eight-token pass adds each product in the same order as its four-token pass, so a token's
     * output does not depend on which pass took it: eight tokens at once against the same tokens four at a time.
     */
    @ParameterizedTest(name = "{0} cols={1}")
    @MethodSource("typesAndSizes")
    void batchPassesGiveTheSameBits(Format type, int cols) {
        Random rnd = new Random(cols * 31L + type.ordinal());
        int rows = 37;
        Stored w = randomMatrix(rnd, rows, cols, type);
        float[] x = randomVector(rnd, 8 * cols);
        float[] together = new float[8 * rows];
        MatrixProduct.multiply(w.matrix(), x, 0, cols, 8, together, 0, rows, POOL);
        float[] byFour = new float[8 * rows];
        MatrixProduct.multiply(w.matrix(), x, 0, cols, 4, byFour, 0, rows, POOL);
        MatrixProduct.multiply(w.matrix(), x, 4 * cols, cols, 4, byFour, 4 * rows, rows, POOL);
        for (int i = 0; i < together.length; i++) {
            assertEquals(
                    Float.floatToRawIntBits(byFour[i]),
                    Float.floatToRawIntBits(together[i]),
                    type + " token " + i / rows + " row " + i % rows + ": " + byFour[i] + " against " + together[i]);
        }
    }

    @ParameterizedTest(name = "{0} cols={1}")
    @MethodSource("typesAndSizes")
    void matMulMatchesScalar(Format type, int cols) {
        Random rnd = new Random(cols * 17L + type.ordinal());
        // 11 and 37: not multiples of the row tile, nor of BatchMatVec's four rows; 37 spans whole tiles too
        for (int rows : new int[] {11, 37}) {
            // 1-40: BatchMatVec (eight-token passes for F16/BF16, then four-token passes, then the tokens left
            // over: 15 takes all three); from 98: transposed tiles, groups of six then a four (100), a two (98) or a
            // one (103)
            for (int tokens : new int[] {1, 3, 4, 8, 9, 15, 40, 98, 100, 103}) {
                Stored w = randomMatrix(rnd, rows, cols, type);
                int xStride = cols + 5;
                float[] x = randomVector(rnd, tokens * xStride);
                int outStride = rows + 1;
                float[] out = new float[tokens * outStride];
                MatrixProduct.multiply(w.matrix(), x, 0, xStride, tokens, out, 0, outStride, POOL);
                for (int t = 0; t < tokens; t++) {
                    float[] xt = new float[cols];
                    System.arraycopy(x, t * xStride, xt, 0, cols);
                    float[] want = ScalarKernels.matVec(w.values(), xt);
                    for (int r = 0; r < rows; r++) {
                        assertClose(
                                want[r],
                                out[t * outStride + r],
                                absDot(w.values()[r], xt),
                                type + " token " + t + " row " + r);
                    }
                }
            }
        }
    }

    /**
     * The transposed tiles widen every stored value exactly: against one-hot tokens (token t is column t) each
     * output is one weight. F16 from the smallest subnormal to 2^15; an odd width leaves a last column on its own.
     */
    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("tileWidths")
    void matMulTilesWidenEveryValueExactly(Format type, int cols) {
        Random rnd = new Random(cols * 31L + type.ordinal());
        int rows = 37;
        Stored w = type == Format.F16 ? wideRangeF16(rnd, rows, cols) : randomMatrix(rnd, rows, cols, type);
        int tokens = cols; // past SMALL_BATCH on every vector width: the tile path
        float[] x = new float[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            x[t * cols + t] = 1f;
        }
        float[] out = new float[tokens * rows];
        MatrixProduct.multiply(w.matrix(), x, 0, cols, tokens, out, 0, rows, POOL);
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                assertEquals(w.values()[r][t], out[t * rows + r], 0f, type + " row " + r + " column " + t);
            }
        }
    }

    static Stream<Arguments> tileWidths() {
        List<Arguments> out = new ArrayList<>();
        for (Format t : ELEMENT_FORMATS) {
            out.add(Arguments.of(t, 130));
            out.add(Arguments.of(t, 131));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("typesAndSizes")
    void rowToFloatsDecodesEveryType(Format type, int cols) {
        Stored w = randomMatrix(new Random(cols), 2, cols, type);
        float[] row = new float[cols];
        w.matrix().rowToFloats(1, row, 0);
        for (int c = 0; c < cols; c++) {
            assertEquals(w.values()[1][c], row[c], "element " + c);
        }
    }

    /** The F16 widening follows -Dfalconmamba.f16Widening where given, and its constants agree with each other. */
    @Test
    void f16WideningFollowsTheProperty() {
        String asked = System.getProperty("falconmamba.f16Widening");
        if (asked != null) {
            assertEquals(asked.equals("plain"), F16Fields.PLAIN_FIELDS, asked);
        }
        assertEquals(F16Fields.PLAIN_FIELDS ? 0 : 14 << 23, F16Fields.SCALED);
        // The rebiased fields times 2^SCALE are the half: 1.0 (0x3C00) widens to 2^-SCALE.
        float one = Float.intBitsToFloat(((0x3C00 << 16) >> 3 & F16Fields.FIELDS) + F16Fields.SCALED);
        assertEquals(1f, Math.scalb(one, F16Fields.SCALE));
        assertEquals(1f, one * Math.scalb(1f, 112) * F16Fields.SCALED_SUMS);
    }

    /** Every half, inf and NaN included, widens to exactly {@link Float#float16ToFloat}'s bits. */
    @Test
    void everyHalfDecodesExactly() {
        int n = 1 << 16;
        MemorySegment seg = Arena.ofAuto().allocate(n * 2L);
        for (int h = 0; h < n; h++) {
            seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), h * 2L, (short) h);
        }
        float[] out = new float[n];
        Convert.toFloats(Format.F16, seg, 0, out, 0, n);
        for (int h = 0; h < n; h++) {
            assertEquals(
                    Float.floatToIntBits(Float.float16ToFloat((short) h)),
                    Float.floatToIntBits(out[h]),
                    "half 0x" + Integer.toHexString(h));
        }
    }

    /**
     * Every finite half, zeros and subnormals included, through every F16 product path (decode, batch decode,
     * the transposed tiles, mapped and packed): against one-hot tokens each output is one weight, so it must be
     * that weight exactly. This pins the rebiasing and the zero-exponent patch of {@link F16Fields}.
     */
    @ParameterizedTest(name = "{0} tokens")
    @ValueSource(ints = {1, 8, 4, 128})
    void everyFiniteHalfMultipliesExactly(int tokens) {
        int rows = 2048;
        int cols = 34; // 32 one-hot columns and an odd-free width past a whole vector of pairs on every width
        List<Short> finite = new ArrayList<>();
        for (int h = 0; h < 1 << 16; h++) {
            if ((h & 0x7C00) != 0x7C00) {
                finite.add((short) h);
            }
        }
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2);
        float[][] values = new float[rows][cols];
        int next = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                short bits = finite.get(next++ % finite.size());
                seg.set(
                        ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        ((long) r * cols + c) * 2,
                        bits);
                values[r][c] = Float.float16ToFloat(bits);
            }
        }
        Matrix mapped = new Matrix("halves", rows, cols, Format.F16, seg);
        List<Weight> weights = List.of(mapped, PackedMatrix.pack(mapped, Arena.ofAuto(), POOL));
        for (Weight w : weights) {
            for (int c0 = 0; c0 < cols; c0 += tokens) {
                int count = Math.min(tokens, cols - c0);
                float[] x = new float[count * cols];
                for (int t = 0; t < count; t++) {
                    x[t * cols + c0 + t] = 1f;
                }
                float[] out = new float[count * rows];
                MatrixProduct.multiply(w, x, 0, cols, count, out, 0, rows, POOL);
                for (int t = 0; t < count; t++) {
                    for (int r = 0; r < rows; r++) {
                        float want = values[r][c0 + t];
                        float got = out[t * rows + r];
                        assertEquals(
                                want == 0 ? 0f : want,
                                got == 0 ? 0f : got,
                                w.getClass().getSimpleName() + " row " + r + " column " + (c0 + t) + " (half 0x"
                                        + Integer.toHexString(Float.floatToFloat16(want) & 0xFFFF) + ")");
                    }
                }
            }
        }
    }

    /**
     * The four-row F16 decode kernel called directly (MatVec runs it for rows of a page or more, which the test
     * above does not reach on every vector width): every finite half against one-hot x comes out exactly.
     */
    @Test
    void fourRowF16KernelGivesEveryHalfExactly() {
        int cols = 34;
        int rows = ((1 << 16) / cols + 4) & -4;
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2);
        float[][] values = new float[rows][cols];
        int h = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++, h++) {
                while ((h & 0x7C00) == 0x7C00) { // skip infinities and NaNs
                    h++;
                }
                short bits = (short) h;
                seg.set(
                        ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        ((long) r * cols + c) * 2,
                        bits);
                values[r][c] = Float.float16ToFloat(bits);
            }
        }
        MemorySegment split = MatVec.allocateSplit(cols / 2);
        float[] out = new float[4];
        for (int c = 0; c < cols; c++) {
            float[] x = new float[cols];
            x[c] = 1f;
            int e = MatVec.split(Format.F16, x, 0, cols / 2, split);
            float rescale = Math.scalb(F16Fields.SCALED_SUMS, e);
            for (int r = 0; r < rows; r += 4) {
                MatVec.dotF16x4(seg, (long) r * cols * 2, cols * 2L, x, 0, split, rescale, cols, out, 0, 1);
                for (int k = 0; k < 4; k++) {
                    float want = values[r + k][c];
                    assertEquals(want == 0 ? 0f : want, out[k] == 0 ? 0f : out[k], "row " + (r + k) + " column " + c);
                }
            }
        }
    }

    @Test
    void f16SpecialValuesDecodeExactly() {
        short[] specials = {
            0x0000,
            (short) 0x8000,
            0x0001,
            0x03FF,
            0x0400,
            0x3C00,
            (short) 0xBC00,
            0x7BFF,
            0x7C00,
            (short) 0xFC00,
            0x7E00
        };
        MemorySegment seg = Arena.ofAuto().allocate(specials.length * 2L);
        for (int i = 0; i < specials.length; i++) {
            seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 2L, specials[i]);
        }
        // In a run as long as a row, as the loader widens them.
        int n = Math.max(specials.length, 64);
        MemorySegment padded = Arena.ofAuto().allocate(n * 2L);
        padded.copyFrom(seg);
        float[] out = new float[n];
        Convert.toFloats(Format.F16, padded, 0, out, 0, n);
        for (int i = 0; i < specials.length; i++) {
            float want = Float.float16ToFloat(specials[i]);
            assertEquals(
                    Float.floatToIntBits(want),
                    Float.floatToIntBits(out[i]),
                    "half 0x" + Integer.toHexString(specials[i] & 0xFFFF));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 16, 31, 33, 1000})
    void rmsNormMatchesScalar(int n) {
        Random rnd = new Random(n);
        float[] x = randomVector(rnd, n);
        float[] w = randomVector(rnd, n);
        for (float[] weight : new float[][] {w, null}) {
            float[] out = new float[n];
            RmsNorm.apply(x, 0, n, weight, 1e-5f, out, 0);
            float[] want = ScalarKernels.rmsNorm(x, weight, 1e-5f);
            for (int i = 0; i < n; i++) {
                assertClose(want[i], out[i], Math.abs(want[i]), "element " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 16, 31, 33, 1000})
    void activationsMatchScalar(int n) {
        Random rnd = new Random(n);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (rnd.nextFloat() * 2 - 1) * 30; // spans softplus' threshold at 20 and exp's useful range
        }
        if (n > 3) {
            x[0] = 20f; // exactly at the threshold: PyTorch still takes log1p(exp(x)) here
            x[1] = 20.001f;
            x[2] = -90f;
        }
        float[] s = x.clone();
        Activations.silu(s, 0, n);
        float[] sp = x.clone();
        Activations.softplus(sp, 0, n);
        float[] z = randomVector(rnd, n);
        float[] y = x.clone();
        Activations.mulSilu(y, 0, z, 0, n);
        for (int i = 0; i < n; i++) {
            double wantSilu = ScalarKernels.silu(x[i]);
            assertClose((float) wantSilu, s[i], Math.abs(wantSilu), "silu(" + x[i] + ")");
            double wantSp = ScalarKernels.softplus(x[i]);
            assertClose((float) wantSp, sp[i], Math.abs(wantSp), "softplus(" + x[i] + ")");
            double wantY = x[i] * ScalarKernels.silu(z[i]);
            assertClose((float) wantY, y[i], Math.abs(wantY), "x·silu(z)");
        }
        if (n > 3) {
            assertEquals(20.001f, sp[1], "softplus above the threshold is the identity");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 16, 31, 33, 100})
    void causalConvMatchesScalarOneStepAndManyTokens(int dIn) {
        Random rnd = new Random(dIn);
        for (int k : new int[] {1, 2, 4}) {
            int hist = k - 1;
            float[][] w = new float[dIn][];
            for (int c = 0; c < dIn; c++) {
                w[c] = randomVector(rnd, k);
            }
            float[] wT = new float[k * dIn];
            for (int c = 0; c < dIn; c++) {
                for (int j = 0; j < k; j++) {
                    wT[j * dIn + c] = w[c][j];
                }
            }
            float[] bias = randomVector(rnd, dIn);
            for (int tokens : new int[] {1, 2, 9}) {
                float[][] history = new float[hist][];
                float[] window = new float[hist * dIn];
                for (int j = 0; j < hist; j++) {
                    history[j] = randomVector(rnd, dIn);
                    System.arraycopy(history[j], 0, window, j * dIn, dIn);
                }
                float[][] x = new float[tokens][];
                float[] xFlat = new float[tokens * 2 * dIn]; // stride 2·d_in, like the [x | z] rows
                for (int t = 0; t < tokens; t++) {
                    x[t] = randomVector(rnd, dIn);
                    System.arraycopy(x[t], 0, xFlat, t * 2 * dIn, dIn);
                }
                float[] out = new float[tokens * dIn];
                CausalConv1d.apply(window, wT, bias, k, dIn, xFlat, 0, 2 * dIn, tokens, out, 0, dIn, 0, dIn);
                float[][] want = ScalarKernels.conv(history, x, w, bias);
                for (int t = 0; t < tokens; t++) {
                    for (int c = 0; c < dIn; c++) {
                        assertClose(want[t][c], out[t * dIn + c], 4, "k=" + k + " t=" + t + " c=" + c);
                    }
                }
                // The window now holds the last k-1 inputs, oldest first.
                for (int j = 0; j < hist; j++) {
                    int src = tokens - hist + j;
                    float[] expectRow = src >= 0 ? x[src] : history[hist + src];
                    for (int c = 0; c < dIn; c++) {
                        assertEquals(expectRow[c], window[j * dIn + c], "window row " + j + " channel " + c);
                    }
                }
            }
        }
    }

    /** A scan's per-token inputs: Δ and x rows of {@code dIn}, and rows laid out like {@code [dt(3) | B | C]}. */
    record ScanRows(float[] delta, float[] x, float[] bc, int bcStride) {}

    static ScanRows scanRows(Random rnd, int rows, int dIn, int n) {
        int bcStride = 3 + 2 * n;
        float[] delta = new float[rows * dIn];
        float[] x = new float[rows * dIn];
        float[] bc = new float[rows * bcStride];
        for (int i = 0; i < delta.length; i++) {
            delta[i] = rnd.nextFloat() * 0.5f;
            x[i] = rnd.nextFloat() * 2 - 1;
        }
        for (int i = 0; i < bc.length; i++) {
            bc[i] = rnd.nextFloat() * 2 - 1;
        }
        return new ScanRows(delta, x, bc, bcStride);
    }

    @ParameterizedTest
    // N of one to four vectors (chunk pairs, and a chunk left over); 70 tokens cross the across-channels pass's
    // token block (64), 300 the per-channel one's (256).
    @CsvSource({"1, 5", "2, 70", "3, 70", "4, 5", "2, 300"})
    void scanAcrossChannelsGivesTheSameBitsAsChannelByChannel(int vectorsOfState, int tokens) {
        int lanes = Convert.F.length();
        int n = vectorsOfState * lanes;
        int dIn = 3 * lanes + 3; // three blocks of channels, three left over for the per-channel loop
        Random rnd = new Random(31L * n + tokens);
        float[] a = new float[dIn * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = -(float) Math.exp(rnd.nextFloat() * 3);
        }
        float[] start = randomVector(rnd, dIn * n);
        float[] d = randomVector(rnd, dIn);
        ScanRows rows = scanRows(rnd, tokens, dIn, n);
        float[] blockState = start.clone();
        float[] blockY = new float[tokens * dIn];
        SelectiveScan.scan(
                blockState,
                a,
                n,
                rows.delta(),
                0,
                dIn,
                rows.x(),
                0,
                dIn,
                rows.bc(),
                3,
                rows.bcStride(),
                d,
                blockY,
                0,
                dIn,
                tokens,
                0,
                dIn);
        float[] oneState = start.clone();
        float[] oneY = new float[tokens * dIn];
        for (int i = 0; i < dIn; i++) { // one channel per call: fewer than a vector's worth, the per-channel loop
            SelectiveScan.scan(
                    oneState,
                    a,
                    n,
                    rows.delta(),
                    0,
                    dIn,
                    rows.x(),
                    0,
                    dIn,
                    rows.bc(),
                    3,
                    rows.bcStride(),
                    d,
                    oneY,
                    0,
                    dIn,
                    tokens,
                    i,
                    i + 1);
        }
        for (int i = 0; i < blockY.length; i++) {
            assertEquals(
                    Float.floatToRawIntBits(oneY[i]),
                    Float.floatToRawIntBits(blockY[i]),
                    "y of token " + i / dIn + ", channel " + i % dIn + ": " + oneY[i] + " against " + blockY[i]);
        }
        for (int i = 0; i < blockState.length; i++) {
            assertEquals(
                    Float.floatToRawIntBits(oneState[i]), Float.floatToRawIntBits(blockState[i]), "state element " + i);
        }
    }

    @ParameterizedTest
    // 8, 16, 24, 32, 48: whole vectors of state, in pairs of chunks and a chunk left over (AVX2 and AVX-512);
    // 600 tokens cross SelectiveScan.TOKEN_BLOCK twice.
    @CsvSource({
        "1, 6", "7, 6", "8, 6", "16, 6", "24, 6", "31, 6", "32, 6", "33, 6", "48, 6", "16, 600", "7, 600", "24, 600"
    })
    void selectiveScanMatchesScalar(int n, int tokens) {
        Random rnd = new Random(n);
        int dIn = 13;
        float[][] state = new float[dIn][];
        float[][] a = new float[dIn][];
        float[] stateFlat = new float[dIn * n];
        float[] aFlat = new float[dIn * n];
        for (int i = 0; i < dIn; i++) {
            state[i] = randomVector(rnd, n);
            a[i] = new float[n];
            for (int j = 0; j < n; j++) {
                a[i][j] = -(float) Math.exp(rnd.nextFloat() * 3);
            }
            System.arraycopy(state[i], 0, stateFlat, i * n, n);
            System.arraycopy(a[i], 0, aFlat, i * n, n);
        }
        float[] d = randomVector(rnd, dIn);
        ScanRows rows = scanRows(rnd, tokens, dIn, n);
        int bcStride = rows.bcStride();
        float[] delta = rows.delta();
        float[] x = rows.x();
        float[] bc = rows.bc();
        float[] y = new float[tokens * dIn];
        // Split the channels in two calls, as the thread pool does.
        SelectiveScan.scan(stateFlat, aFlat, n, delta, 0, dIn, x, 0, dIn, bc, 3, bcStride, d, y, 0, dIn, tokens, 0, 5);
        SelectiveScan.scan(
                stateFlat, aFlat, n, delta, 0, dIn, x, 0, dIn, bc, 3, bcStride, d, y, 0, dIn, tokens, 5, dIn);
        for (int t = 0; t < tokens; t++) {
            float[] dt = new float[dIn];
            float[] xt = new float[dIn];
            System.arraycopy(delta, t * dIn, dt, 0, dIn);
            System.arraycopy(x, t * dIn, xt, 0, dIn);
            float[] b = new float[n];
            float[] c = new float[n];
            System.arraycopy(bc, t * bcStride + 3, b, 0, n);
            System.arraycopy(bc, t * bcStride + 3 + n, c, 0, n);
            float[] want = ScalarKernels.scanStep(state, a, dt, xt, b, c, d);
            for (int i = 0; i < dIn; i++) {
                assertClose(want[i], y[t * dIn + i], n, "t=" + t + " channel " + i);
            }
        }
        for (int i = 0; i < dIn; i++) {
            for (int j = 0; j < n; j++) {
                assertClose(state[i][j], stateFlat[i * n + j], 4, "state " + i + "," + j);
            }
        }
    }

    /** The decode / batch-decode step: one token per state, three states, against the scalar step of each. */
    @ParameterizedTest
    @ValueSource(ints = {7, 16, 32})
    void selectiveScanStepMatchesScalarPerState(int n) {
        Random rnd = new Random(100 + n);
        int dIn = 45; // split 0..6, 6..45 below: a partial block of channels, then full and partial ones
        int count = 3;
        float[][] aRows = new float[dIn][n];
        float[] aFlat = new float[dIn * n];
        for (int i = 0; i < dIn; i++) {
            for (int j = 0; j < n; j++) {
                aRows[i][j] = -(float) Math.exp(rnd.nextFloat() * 3);
                aFlat[i * n + j] = aRows[i][j];
            }
        }
        float[][][] state = new float[count][dIn][];
        float[][] stateFlat = new float[count][dIn * n];
        for (int t = 0; t < count; t++) {
            for (int i = 0; i < dIn; i++) {
                state[t][i] = randomVector(rnd, n);
                System.arraycopy(state[t][i], 0, stateFlat[t], i * n, n);
            }
        }
        float[] d = randomVector(rnd, dIn);
        ScanRows rows = scanRows(rnd, count, dIn, n);
        int bcStride = rows.bcStride();
        float[] delta = rows.delta();
        float[] x = rows.x();
        float[] bc = rows.bc();
        float[] y = new float[count * dIn];
        SelectiveScan.step(stateFlat, count, aFlat, n, delta, 0, dIn, x, 0, dIn, bc, 3, bcStride, d, y, 0, dIn, 0, 6);
        SelectiveScan.step(stateFlat, count, aFlat, n, delta, 0, dIn, x, 0, dIn, bc, 3, bcStride, d, y, 0, dIn, 6, dIn);
        for (int t = 0; t < count; t++) {
            float[] b = new float[n];
            float[] c = new float[n];
            System.arraycopy(bc, t * bcStride + 3, b, 0, n);
            System.arraycopy(bc, t * bcStride + 3 + n, c, 0, n);
            float[] want = ScalarKernels.scanStep(
                    state[t],
                    aRows,
                    java.util.Arrays.copyOfRange(delta, t * dIn, (t + 1) * dIn),
                    java.util.Arrays.copyOfRange(x, t * dIn, (t + 1) * dIn),
                    b,
                    c,
                    d);
            for (int i = 0; i < dIn; i++) {
                assertClose(want[i], y[t * dIn + i], n, "state " + t + " channel " + i);
                for (int j = 0; j < n; j++) {
                    assertClose(state[t][i][j], stateFlat[t][i * n + j], 4, "state " + t + " [" + i + "," + j + "]");
                }
            }
        }
    }
}
