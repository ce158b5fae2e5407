package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The Q8_0 decode kernel, which quantizes x and runs four rows per pass: every row's result is bit for bit the
 * same on any number of threads and in either pass (four rows or one), so decode does not depend on the pool.
 */
class BlockMatVecTest {

    /** Random Q8_0 blocks: random quants (-128 included) and half scales near llama.cpp's sizes. */
    private static BlockMatrix randomQ8(Arena arena, int rows, int cols, Random rnd) {
        long rb = Format.Q8_0.rowBytes(cols);
        MemorySegment seg = arena.allocate(rows * rb);
        for (long at = 0; at < rows * rb; at += 34) {
            seg.set(Convert.I16, at, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
            for (int j = 0; j < 32; j++) {
                seg.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) rnd.nextInt(256));
            }
        }
        return BlockMatrix.of("q8", rows, cols, Format.Q8_0, seg);
    }

    @Test
    void q8DecodeIsTheSameOnEveryThreadCountAndPass() {
        Assumptions.assumeTrue(BlockMatVec.VECTOR, "no Q8_0 decode kernel at this vector width");
        Random rnd = new Random(19);
        int rows = 203; // not a multiple of the four rows per pass
        int cols = 1024;
        try (Arena arena = Arena.ofShared();
                ThreadPool two = new ThreadPool(2);
                ThreadPool three = new ThreadPool(3)) {
            BlockMatrix w = randomQ8(arena, rows, cols, rnd);
            assertTrue(w.byteSize() >= MatVec.INLINE_BYTES, "test matrix must take the pooled path");
            float[] x = new float[cols + 1];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] one = new float[rows];
            float[] pooled2 = new float[rows];
            float[] pooled3 = new float[rows];
            w.matVec(x, 1, one, 0, ThreadPool.INLINE);
            w.matVec(x, 1, pooled2, 0, two);
            w.matVec(x, 1, pooled3, 0, three);
            // Each row alone through the one-row kernel, against the same quantized x.
            short[] xq = new short[cols];
            float[] xd = new float[cols / 32];
            BlockMatVec.quantize(x, 1, cols / 32, xq, xd);
            float[] lanes = Lanes.scratch();
            for (int r = 0; r < rows; r++) {
                float alone = BlockMatVec.q8_0(w.data(), r * w.rowBytes(), cols / 32, xq, xd, lanes);
                assertEquals(Float.floatToIntBits(one[r]), Float.floatToIntBits(pooled2[r]), "2 threads, row " + r);
                assertEquals(Float.floatToIntBits(one[r]), Float.floatToIntBits(pooled3[r]), "3 threads, row " + r);
                assertEquals(Float.floatToIntBits(alone), Float.floatToIntBits(one[r]), "one-row pass, row " + r);
            }
        }
    }

    /**
     * Random K-quant blocks (every byte random, the half scales small and finite) in rows of several blocks, against
     * the scalar block decoder in double. Q5_K widens the same weights, so only the summation order differs (a few
     * float32 roundings of the sum of |w·x|). Q4_K and Q6_K run against x quantized to Q8_0 blocks, as llama.cpp's
     * do: each x within half a step {@code max|x|/127} of its 32-column block (and the rounding of {@code x/d}), so
     * they may differ by {@code Σ_blocks d·(1/2 + 2⁻¹⁶)·Σ|w|} more.
     */
    @Test
    void kQuantKernelsMatchTheScalarDecoderOverRowsOfManyBlocks() {
        Assumptions.assumeTrue(BlockMatVec.covers(Format.Q4_K), "no K-quant kernel at this vector width");
        Random rnd = new Random(23);
        int rows = 37;
        int cols = 1280; // five 256-weight blocks per row
        try (Arena arena = Arena.ofConfined();
                ThreadPool pool = new ThreadPool(2)) {
            for (Format f : new Format[] {Format.Q4_K, Format.Q5_K, Format.Q6_K}) {
                long rb = f.rowBytes(cols);
                MemorySegment seg = arena.allocate(rows * rb);
                for (long i = 0; i < rows * rb; i++) {
                    seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                }
                for (long at = 0; at < rows * rb; at += f.blockBytes()) {
                    if (f == Format.Q6_K) {
                        seg.set(Convert.I16, at + 208, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
                    } else {
                        seg.set(Convert.I16, at, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
                        seg.set(Convert.I16, at + 2, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
                    }
                }
                BlockMatrix w = BlockMatrix.of("k", rows, cols, f, seg);
                float[] x = new float[cols];
                for (int c = 0; c < cols; c++) {
                    x[c] = (float) rnd.nextGaussian();
                }
                float[] out = new float[rows];
                w.matVec(x, 0, out, 0, pool);
                float[] row = new float[cols];
                for (int r = 0; r < rows; r++) {
                    w.rowToFloats(r, row, 0);
                    double want = 0;
                    double magnitude = 0;
                    double xQuantization = 0;
                    for (int c = 0; c < cols; c++) {
                        want += (double) row[c] * x[c];
                        magnitude += Math.abs((double) row[c] * x[c]);
                    }
                    if (f != Format.Q5_K) {
                        for (int b = 0; b < cols; b += 32) {
                            double max = 0;
                            double w1 = 0;
                            for (int c = b; c < b + 32; c++) {
                                max = Math.max(max, Math.abs(x[c]));
                                w1 += Math.abs(row[c]);
                            }
                            xQuantization += max / 127 * (0.5 + 0x1p-16) * w1;
                        }
                    }
                    assertEquals(want, out[r], 1e-5 * magnitude + xQuantization + 1e-30, f + " row " + r);
                }
            }
        }
    }

    /** x's Q8_0 blocks: {@code |q| ≤ 127}, each x within half a step of {@code q·d}, zero blocks all zero. */
    @Test
    void quantizedXIsWithinHalfAStep() {
        Random rnd = new Random(7);
        int blocks = 40;
        float[] x = new float[32 * blocks + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(9) - 4));
        }
        for (int j = 0; j < 32; j++) {
            x[3 + 32 * 5 + j] = 0; // an all-zero block
            x[3 + 32 * 6 + j] = j == 0 ? Float.MIN_NORMAL : 0; // a step of a subnormal: 1/d overflows
        }
        short[] q = new short[32 * blocks];
        float[] d = new float[blocks];
        BlockMatVec.quantize(x, 3, blocks, q, d);
        for (int b = 0; b < blocks; b++) {
            for (int j = 0; j < 32; j++) {
                float v = x[3 + 32 * b + j];
                int k = 32 * b + j;
                assertTrue(Math.abs(q[k]) <= 127, "block " + b + ": quant " + q[k]);
                assertTrue(
                        Math.abs(v - (double) q[k] * d[b]) <= d[b] * (0.5 + 0x1p-16),
                        "block " + b + " element " + j + ": " + v + " vs " + q[k] + "·" + d[b]);
            }
        }
        assertEquals(0f, d[5]);
        assertEquals(127, q[32 * 6]);
    }

    /**
     * The vector quantization rounds as {@code Math.round(x / d)} (half up), the ties included: a block whose
     * maximum is 127 has d = 1, so x = k + 0.5 is an exact tie, and 0.49999997 must not round up.
     */
    @Test
    void quantizedXRoundsAsMathRound() {
        Random rnd = new Random(11);
        int blocks = 24;
        float[] x = new float[32 * blocks];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] ties = {127, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 0.49999997f, -0.49999997f, 126.5f, -126.5f, -127};
        for (int b = 0; b < 4; b++) {
            for (int j = 0; j < 32; j++) {
                x[32 * b + j] = ties[(j + 5 * b) % ties.length];
            }
        }
        short[] q = new short[32 * blocks];
        float[] d = new float[blocks];
        BlockMatVec.quantize(x, 0, blocks, q, d);
        for (int b = 0; b < blocks; b++) {
            float max = 0;
            for (int j = 0; j < 32; j++) {
                max = Math.max(max, Math.abs(x[32 * b + j]));
            }
            assertEquals(max / 127, d[b], "block " + b);
            for (int j = 0; j < 32; j++) {
                float v = x[32 * b + j];
                assertEquals(Math.round(v / d[b]), q[32 * b + j], "block " + b + " element " + j + ": " + v);
            }
        }
    }
}
