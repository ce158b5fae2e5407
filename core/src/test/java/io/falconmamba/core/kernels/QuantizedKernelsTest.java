package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Q8_0 / Q4_0: the block bytes against hand-computed llama.cpp blocks, the quantize → dequantize error bounds,
 * and the quantized matrix × vector / matrix × matrix kernels against a scalar dequantize-then-dot twin that
 * decodes the bytes by llama.cpp's definition on its own.
 *
 * <p>Kernel tolerance, as in {@link KernelsTest}: the twin sums in double over the same dequantized values, the
 * kernel in float32 lanes with a per-block partial sum scaled once; the float32 rounding error is about
 * sqrt(n)·2^-24·Σ|terms|, so 1e-5·Σ|terms| + 1e-6 holds with margin at n = 4096 while a mis-decoded nibble or a
 * wrong scale (an error of at least one term) fails it. Q4_0's matrix × vector runs against x quantized to Q8_0
 * blocks, as llama.cpp's does: each x within half a step {@code max|x_b|/127} of its 32-column block (and the
 * rounding of {@code x/d}), so it may differ by {@code Σ_b max|x_b|/127·(1/2 + 2⁻¹⁶)·Σ_b|w|} more, the bound
 * {@link BlockMatVecTest} uses.
 */
class QuantizedKernelsTest {

    static final ThreadPool POOL = new ThreadPool(2);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @AfterAll
    static void close() {
        POOL.close();
    }

    static Matrix f32(String name, float[][] rows) {
        int r = rows.length;
        int c = rows[0].length;
        MemorySegment seg = Arena.ofAuto().allocate((long) r * c * 4, 4);
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                seg.set(
                        ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        ((long) i * c + j) * 4,
                        rows[i][j]);
            }
        }
        return new Matrix(name, r, c, Format.F32, seg);
    }

    static QuantizedMatrix quantize(float[][] rows, Format q) {
        return QuantizedMatrix.quantize(f32("w", rows), q, Arena.ofAuto(), POOL);
    }

    /** Block b of row r as llama.cpp stores it, as unsigned bytes. */
    static int[] block(QuantizedMatrix m, int r, int b) {
        byte[] bytes = m.block(r, b);
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[i] & 0xFF;
        }
        return out;
    }

    static int[] bytes(QuantizedMatrix m) {
        byte[] b = m.data().toArray(ValueLayout.JAVA_BYTE);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xFF;
        }
        return out;
    }

    // ---- block layout ----

    @Test
    void q8BlockBytesAreLlamaCpps() {
        float[] x = new float[32];
        x[0] = 127f; // amax 127 → d = 1 (half 0x3C00), id = 1
        x[1] = -127f;
        x[2] = 2.5f; // roundf: halves away from zero → 3 (Math.round would give 3 too)
        x[3] = -2.5f; // → -3 (Math.round would give -2)
        x[4] = 0.49f; // → 0
        x[5] = -0.5f; // → -1 (Math.round: 0)
        x[6] = 100.4f; // → 100
        int[] expected = new int[34];
        expected[0] = 0x00;
        expected[1] = 0x3C;
        int[] q = {0x7F, 0x81, 0x03, 0xFD, 0x00, 0xFF, 0x64};
        System.arraycopy(q, 0, expected, 2, q.length);
        QuantizedMatrix m = quantize(new float[][] {x}, Format.Q8_0);
        assertArrayEquals(expected, block(m, 0, 0));
    }

    @Test
    void q8ScaleIsRoundedToHalf() {
        float[] x = new float[32];
        x[7] = -1f; // d = 1/127 = 0.007874016 = 2^-7 · 1.00787 → half: exponent 8, mantissa round(0.00787·1024) = 8
        QuantizedMatrix m = quantize(new float[][] {x}, Format.Q8_0);
        int[] b = block(m, 0, 0);
        assertEquals(0x08, b[0]);
        assertEquals(0x20, b[1]);
        assertEquals(0x81, b[2 + 7]); // -127
    }

    @Test
    void q4BlockBytesAreLlamaCpps() {
        float[] x = new float[32];
        x[0] = -8f; // first of largest magnitude: m = -8, d = m / -8 = 1 (0x3C00); q = min(15, trunc(x + 8.5))
        x[16] = 7f; // → 15: byte 0 = 0 | 15 << 4 = 0xF0
        x[1] = 0.5f; // → 9
        x[17] = -0.5f; // → 8: byte 1 = 0x89
        x[2] = 7.6f; // trunc(16.1) = 16 → clamped to 15
        x[18] = -3.2f; // trunc(5.3) = 5: byte 2 = 0x5F
        x[5] = 8f; // same magnitude as x[0] but later: not the max; trunc(16.5) = 16 → clamp 15; byte 5 = 0x8F
        int[] expected = new int[18];
        expected[1] = 0x3C;
        for (int j = 0; j < 16; j++) {
            expected[2 + j] = 0x88; // zeros → q = 8 in both nibbles
        }
        expected[2] = 0xF0;
        expected[3] = 0x89;
        expected[4] = 0x5F;
        expected[7] = 0x8F;
        QuantizedMatrix m = quantize(new float[][] {x}, Format.Q4_0);
        assertArrayEquals(expected, block(m, 0, 0));
    }

    @Test
    void q4PositiveMaxGivesNegativeScale() {
        float[] x = new float[32];
        x[3] = 4f; // m = 4 → d = -0.5 (half 0xB800), id = -2; x = 4 → trunc(-8 + 8.5) = 0; x = -1 → trunc(2 + 8.5) = 10
        x[20] = -1f;
        QuantizedMatrix m = quantize(new float[][] {x}, Format.Q4_0);
        int[] b = block(m, 0, 0);
        assertEquals(0x00, b[0]);
        assertEquals(0xB8, b[1]);
        assertEquals(0x80, b[2 + 3]); // q[3] = 0, q[19] = 8
        assertEquals(0xA8, b[2 + 4]); // q[4] = 8, q[20] = 10
        float[] back = new float[32];
        m.rowToFloats(0, back, 0);
        assertEquals(4f, back[3]);
        assertEquals(-1f, back[20]);
    }

    @Test
    void zeroBlockQuantizesToZero() {
        for (Format q : List.of(Format.Q8_0, Format.Q4_0)) {
            QuantizedMatrix m = quantize(new float[][] {new float[64]}, q);
            float[] back = new float[64];
            m.rowToFloats(0, back, 0);
            for (float v : back) {
                assertEquals(0f, v, 0f); // Q4_0's d = 0 / -8 is -0 (as in llama.cpp), so values may be -0
            }
        }
    }

    @Test
    void rejectsPartialBlocks() {
        assertThrows(IllegalArgumentException.class, () -> quantize(new float[][] {new float[40]}, Format.Q8_0));
        assertTrue(QuantizedMatrix.quantizable(96));
        assertTrue(!QuantizedMatrix.quantizable(8));
    }

    // ---- error bounds ----

    static float[][] randomRows(Random rnd, int rows, int cols) {
        float[][] w = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                w[r][c] = (float) (rnd.nextGaussian() * 0.05);
                if (rnd.nextInt(200) == 0) {
                    w[r][c] *= 20; // outliers, as real weights have
                }
            }
        }
        return w;
    }

    @ParameterizedTest
    @EnumSource(
            value = Format.class,
            names = {"Q8_0", "Q4_0"})
    void dequantizeErrorWithinHalfAStep(Format type) {
        Random rnd = new Random(7);
        int rows = 50;
        int cols = 256;
        float[][] w = randomRows(rnd, rows, cols);
        QuantizedMatrix m = quantize(w, type);
        float[] back = new float[cols];
        double worstRatio = 0;
        for (int r = 0; r < rows; r++) {
            m.rowToFloats(r, back, 0);
            for (int b = 0; b < cols / 32; b++) {
                float d16 = m.scale(r, b);
                // d before rounding to half, recomputed as llama.cpp does
                float amax = 0;
                float max = 0;
                for (int j = 0; j < 32; j++) {
                    float v = w[r][b * 32 + j];
                    if (amax < Math.abs(v)) {
                        amax = Math.abs(v);
                        max = v;
                    }
                }
                float d = type == Format.Q8_0 ? amax / 127f : max / -8f;
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(d)), d16);
                for (int j = 0; j < 32; j++) {
                    int c = b * 32 + j;
                    int q = m.quant(r, c);
                    double err = Math.abs((double) w[r][c] - back[c]);
                    // Half a step of the exact scale, plus what rounding the scale to half moves the grid point.
                    double step = Math.abs(d);
                    double scaleShift = Math.abs(type == Format.Q8_0 ? q : q - 8) * Math.abs((double) d - d16);
                    boolean clamped = type == Format.Q4_0 && q == 15 && w[r][c] / d > 7.5;
                    double bound = (clamped ? step : step / 2) * (1 + 1e-5) + scaleShift + 1e-12;
                    assertTrue(err <= bound, type + " row " + r + " col " + c + ": |w - ŵ| = " + err + " > " + bound);
                    worstRatio = Math.max(worstRatio, (err - scaleShift) / step);
                    float expected = type == Format.Q8_0 ? q * d16 : (q - 8) * d16;
                    assertEquals(expected, back[c], "dequantized value is q·d");
                }
            }
        }
        assertTrue(worstRatio > 0.3, "the bound is tight enough to mean something: worst error / step = " + worstRatio);
    }

    // ---- kernels against the scalar twin ----

    /**
     * Row r decoded by llama.cpp's definition from its blocks' bytes ({@link QuantizedMatrix#block}), independent
     * of the kernels, which decode the tiled layout themselves.
     */
    static double[] twinRow(QuantizedMatrix m, int r) {
        double[] out = new double[m.cols()];
        for (int b = 0; b < m.cols() / 32; b++) {
            MemorySegment s = MemorySegment.ofArray(m.block(r, b));
            double d = Float.float16ToFloat(s.get(I16, 0));
            for (int j = 0; j < 32; j++) {
                int q;
                if (m.format() == Format.Q8_0) {
                    q = s.get(ValueLayout.JAVA_BYTE, 2 + j);
                } else {
                    int byt = s.get(ValueLayout.JAVA_BYTE, 2 + j % 16) & 0xFF;
                    q = (j < 16 ? byt & 0x0F : byt >> 4) - 8;
                }
                out[b * 32 + j] = q * d;
            }
        }
        return out;
    }

    static void assertDot(double[] w, float[] x, int xOff, float got, String what) {
        assertDot(w, x, xOff, false, got, what);
    }

    /** As above; {@code quantizedX}: the kernel multiplied x quantized to Q8_0 blocks (see the class comment). */
    static void assertDot(double[] w, float[] x, int xOff, boolean quantizedX, float got, String what) {
        double sum = 0;
        double abs = 0;
        double xQuantization = 0;
        for (int c = 0; c < w.length; c++) {
            sum += w[c] * x[xOff + c];
            abs += Math.abs(w[c] * x[xOff + c]);
        }
        for (int b = 0; quantizedX && b < w.length / 32; b++) {
            double max = 0;
            double w1 = 0;
            for (int j = 32 * b; j < 32 * b + 32; j++) {
                max = Math.max(max, Math.abs(x[xOff + j]));
                w1 += Math.abs(w[j]);
            }
            xQuantization += max / 127 * (0.5 + 0x1p-16) * w1;
        }
        double tol = 1e-5 * abs + 1e-6 + xQuantization;
        assertTrue(Math.abs(got - sum) <= tol, what + ": got " + got + ", twin " + sum + " (tol " + tol + ")");
    }

    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        for (Format q : List.of(Format.Q8_0, Format.Q4_0)) {
            for (int cols : new int[] {32, 64, 96, 4096}) {
                for (int rows : new int[] {1, 5, 33, 64}) {
                    out.add(Arguments.of(q, rows, cols));
                }
            }
            out.add(Arguments.of(q, 70, 4096)); // large enough to split across the pool's threads
            // Enough tiles for four-tile passes (32 tiles at 16 lanes) and claims of several passes, whose tiles
            // MatVec.STREAMS spreads apart; a partial last tile.
            out.add(Arguments.of(q, 517, 64));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @MethodSource("shapes")
    void matVecMatchesTwin(Format type, int rows, int cols) {
        Random rnd = new Random(rows * 31L + cols);
        QuantizedMatrix m = quantize(randomRows(rnd, rows, cols), type);
        float[] x = new float[cols + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextFloat() * 2 - 1;
        }
        float[] out = new float[rows + 2];
        QMatVec.multiply(m, x, 3, out, 2, POOL);
        for (int r = 0; r < rows; r++) {
            assertDot(twinRow(m, r), x, 3, quantizesX(type), out[2 + r], "row " + r);
        }
        // The single-row and scalar fallbacks agree as well.
        for (int r = 0; r < rows; r++) {
            assertDot(twinRow(m, r), x, 3, QMatVec.dotScalar(m, r, x, 3), "scalar row " + r);
        }
    }

    /** Whether QMatVec multiplies {@code type} against quantized x: Q4_0 with the vector kernels. */
    static boolean quantizesX(Format type) {
        return type == Format.Q4_0 && QMatVec.VECTOR;
    }

    /**
     * Q4_0's block sums at their largest: every low quant 15 against x quantized to +127 and every high quant -8
     * against -127 (and the mirror image) is 8·(15·127 + 8·127) = 23368 per 16-bit lane, which must come out
     * exact; here x is exact in Q8_0 (±1 in every block), so only float rounding separates kernel and twin.
     */
    @Test
    void q4BlockSumsAtTheirLargestStayExact() {
        int rows = 70;
        int cols = 4096;
        float[][] w = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                w[r][c] = c % 32 < 16 ? 7 : -8; // d = 1: quants 15 and 0 (8 + w)
            }
        }
        QuantizedMatrix m = quantize(w, Format.Q4_0);
        for (float sign : new float[] {1, -1}) {
            float[] x = new float[cols];
            for (int c = 0; c < cols; c++) {
                x[c] = c % 32 < 16 ? sign : -sign;
            }
            float[] out = new float[rows];
            QMatVec.multiply(m, x, 0, out, 0, POOL);
            for (int r = 0; r < rows; r++) {
                double[] tw = twinRow(m, r);
                assertEquals(sign * cols / 32 * (16 * 7 + 16 * 8), sumProduct(tw, x), 0);
                assertDot(tw, x, 0, true, out[r], "sign " + sign + " row " + r);
            }
        }
    }

    static double sumProduct(double[] w, float[] x) {
        double s = 0;
        for (int c = 0; c < w.length; c++) {
            s += w[c] * x[c];
        }
        return s;
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @MethodSource("shapes")
    void matMulMatchesTwin(Format type, int rows, int cols) {
        for (int tokens : new int[] {1, 3, 4, 8, 9, 17, 31, 32, 40}) {
            Random rnd = new Random(rows * 31L + cols + tokens);
            QuantizedMatrix m = quantize(randomRows(rnd, rows, cols), type);
            int xStride = cols + 5;
            int outStride = rows + 1;
            float[] x = new float[1 + tokens * xStride];
            for (int i = 0; i < x.length; i++) {
                x[i] = rnd.nextFloat() * 2 - 1;
            }
            float[] out = new float[2 + tokens * outStride];
            MatrixProduct.multiply(m, x, 1, xStride, tokens, out, 2, outStride, POOL);
            double[][] tw = new double[rows][];
            for (int r = 0; r < rows; r++) {
                tw[r] = twinRow(m, r);
            }
            for (int t = 0; t < tokens; t++) {
                for (int r = 0; r < rows; r++) {
                    assertDot(
                            tw[r],
                            x,
                            1 + t * xStride,
                            tokens == 1 && quantizesX(type), // one token is a matrix × vector
                            out[2 + t * outStride + r],
                            "tokens " + tokens + " t " + t + " row " + r);
                }
            }
        }
    }

    @Test
    void quantizesEveryStoredType() {
        Random rnd = new Random(3);
        int rows = 6;
        int cols = 96;
        for (Format type : KernelsTest.ELEMENT_FORMATS) {
            KernelsTest.Stored s = KernelsTest.randomMatrix(rnd, rows, cols, type);
            QuantizedMatrix fromStored = QuantizedMatrix.quantize(s.matrix(), Format.Q8_0, Arena.ofAuto(), POOL);
            QuantizedMatrix fromFloats = quantize(s.values(), Format.Q8_0);
            assertArrayEquals(bytes(fromFloats), bytes(fromStored), type.toString());
        }
    }

    /**
     * A GGUF file's Q8_0 and Q4_0 blocks rearranged into tiles hold the very bytes of each block, and multiply as
     * the blocks decode: rows not a multiple of the tile, random bytes with finite scales.
     */
    @ParameterizedTest
    @EnumSource(
            value = Format.class,
            names = {"Q8_0", "Q4_0"})
    void blocksRearrangedIntoTilesKeepEveryByte(Format type) {
        Random rnd = new Random(type.ordinal());
        int rows = 3 * QuantizedMatrix.TILE + 5;
        int cols = 96;
        int blockBytes = type.blockBytes();
        MemorySegment data = Arena.ofAuto().allocate((long) rows * (cols / 32) * blockBytes);
        byte[][][] blocks = new byte[rows][cols / 32][blockBytes];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                rnd.nextBytes(blocks[r][b]);
                short scale = Float.floatToFloat16((float) rnd.nextGaussian() * 0.01f);
                blocks[r][b][0] = (byte) scale;
                blocks[r][b][1] = (byte) (scale >> 8);
                MemorySegment.copy(
                        blocks[r][b],
                        0,
                        data,
                        ValueLayout.JAVA_BYTE,
                        ((long) r * cols / 32 + b) * blockBytes,
                        blockBytes);
            }
        }
        BlockMatrix src = BlockMatrix.of("w", rows, cols, type, data);
        QuantizedMatrix tiled = QuantizedMatrix.fromBlocks(src, Arena.ofAuto(), POOL);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                assertArrayEquals(blocks[r][b], tiled.block(r, b), "row " + r + " block " + b);
            }
        }
        float[] x = new float[cols];
        for (int c = 0; c < cols; c++) {
            x[c] = (float) rnd.nextGaussian();
        }
        float[] got = new float[rows];
        MatrixProduct.multiply(tiled, x, 0, cols, 1, got, 0, rows, POOL);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            src.rowToFloats(r, row, 0);
            double[] w = new double[cols];
            for (int c = 0; c < cols; c++) {
                w[c] = row[c];
            }
            assertDot(w, x, 0, quantizesX(type), got[r], "row " + r);
        }
    }
}
