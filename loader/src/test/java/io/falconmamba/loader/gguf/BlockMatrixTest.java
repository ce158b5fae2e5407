package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Tensor;
import io.falconmamba.core.kernels.BlockMatrix;
import io.falconmamba.core.kernels.Format;
import io.falconmamba.core.kernels.MatrixProduct;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The engine's in-place block matrices ({@link BlockMatrix}) on every block-quantized tensor of the GGUF fixtures,
 * against the loader's scalar reference decoder ({@link Dequantizer}, itself exact against llama.cpp's rows).
 *
 * <p>Decoded rows must be bit-identical: both compute each weight in float32 in ggml's order. Products are
 * compared with a double-precision product of the reference rows; a float32 sum of {@code n} terms is within
 * {@code n·2⁻²⁴·Σ|w·x|} of the exact sum (recursive summation's bound; the vector kernels' lane-wise sums do
 * better), so that, with {@code n = cols + 2} for the products' own roundings, is the tolerance.
 */
class BlockMatrixTest {

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static ThreadPool pool;

    @BeforeAll
    static void startPool() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    /** Every fixture's block tensors: rows decoded exactly, the matrix over the mapping itself, products. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("io.falconmamba.loader.gguf.GgufFixtures#all")
    void rowsAndProductsMatchTheReferenceDecoder(String model, String type) {
        try (GgufWeights w = new GgufWeights(GgufFile.open(GgufFixtures.file(model, type)))) {
            int checked = 0;
            for (GgufTensorInfo info : w.file().tensors().values()) {
                String hf = MambaTensorNames.toHuggingFace(info.name());
                if (!info.type().isBlock() || hf == null || MambaTensorNames.isALog(hf)) {
                    continue;
                }
                Tensor t = w.tensor(hf);
                assertEquals(info.type().name(), t.format().name(), info.name());
                long[] shape = info.shape();
                int cols = (int) shape[shape.length - 1];
                int rows = (int) (info.elements() / cols);
                BlockMatrix m = BlockMatrix.of(hf, rows, cols, t.format(), t.data());
                MemorySegment mapped = w.file().data(info.name());
                // In place: the matrix reads the file's mapping, not a copy.
                assertEquals(mapped.address(), m.data().address(), info.name());
                assertEquals(mapped.byteSize(), m.byteSize(), info.name());
                long inFile = m.data().address() - w.file().mapping().address();
                assertTrue(
                        inFile >= 0
                                && inFile + m.byteSize() <= w.file().mapping().byteSize(),
                        info.name() + " is not a view of the mapped file");
                float[][] ref = new float[rows][];
                float[] got = new float[cols];
                for (int r = 0; r < rows; r++) {
                    ref[r] = Dequantizer.row(info.type(), mapped, r, cols);
                    m.rowToFloats(r, got, 0);
                    assertArrayEquals(ref[r], got, info.name() + " " + info.type() + " row " + r);
                }
                for (int tokens : new int[] {1, 3, 40}) {
                    assertProduct(m, ref, tokens, new Random(tokens * 31L + rows));
                }
                assertDecodeMatchesGenericRows(m, new Random(rows));
                checked++;
            }
            assertTrue(checked > 0 || Set.of("F32", "F16", "BF16").contains(type), type + " has no block tensors");
        }
    }

    /** Byte offsets of the half-float scales in a block of each format (everything else is any bits). */
    private static int[] halves(Format f) {
        return switch (f) {
            case Q8_0, Q4_0, Q5_0, IQ4_NL, IQ4_XS -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            case F32, F16, BF16 -> throw new IllegalArgumentException(f + " has no blocks");
        };
    }

    /**
     * Every block format, IQ4_XS included (no fixture has it), on random blocks (random bits, finite random half
     * scales): rows exact against the reference decoder, products and decode as for the fixtures.
     */
    @Test
    void randomBlocksOfEveryFormat() {
        Random rnd = new Random(11);
        for (Format f : Format.values()) {
            if (!f.blocked()) {
                continue;
            }
            int rows = 9;
            int cols = 2 * 256;
            long rb = f.rowBytes(cols);
            byte[] bytes = new byte[(int) (rows * rb)];
            rnd.nextBytes(bytes);
            MemorySegment seg = MemorySegment.ofArray(bytes);
            for (long at = 0; at < bytes.length; at += f.blockBytes()) {
                for (int h : halves(f)) {
                    seg.set(
                            java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(
                                    java.nio.ByteOrder.LITTLE_ENDIAN),
                            at + h,
                            Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
                }
            }
            GgmlType type = GgmlType.valueOf(f.name());
            BlockMatrix m = BlockMatrix.of("random " + f, rows, cols, f, seg);
            float[][] ref = new float[rows][];
            float[] got = new float[cols];
            for (int r = 0; r < rows; r++) {
                ref[r] = Dequantizer.row(type, seg, r, cols);
                m.rowToFloats(r, got, 0);
                assertArrayEquals(ref[r], got, f + " row " + r);
            }
            for (int tokens : new int[] {1, 3, 40}) {
                assertProduct(m, ref, tokens, new Random(tokens));
            }
            assertDecodeMatchesGenericRows(m, new Random(5));
        }
    }

    /** Every block format the engine reads is covered by at least one fixture tensor, IQ4_XS aside. */
    @Test
    void fixturesCoverTheBlockFormats() {
        Set<Format> seen = EnumSet.noneOf(Format.class);
        GgufFixtures.all().forEach(a -> {
            Object[] args = a.get();
            try (GgufFile f = GgufFile.open(GgufFixtures.file((String) args[0], (String) args[1]))) {
                for (GgufTensorInfo info : f.tensors().values()) {
                    Format fm = GgufWeights.format(info.type());
                    if (fm != null && fm.blocked()) {
                        seen.add(fm);
                    }
                }
            }
        });
        for (Format fm : Format.values()) {
            if (fm.blocked() && fm != Format.IQ4_XS) {
                assertTrue(seen.contains(fm), fm + " is in no fixture");
            }
        }
    }

    /**
     * The matrix's own decode ({@code matVec}: the vector kernels for Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K) against the
     * generic path, the {@link Weight} defaults over the same {@code rowToFloats}. Both multiply the same float
     * weights, summed in different orders, so each is within {@code n·2⁻²⁴·Σ|w·x|} of the exact sum and they are
     * within twice that of each other.
     */
    static void assertDecodeMatchesGenericRows(BlockMatrix m, Random rnd) {
        Weight generic = new Weight() {
            @Override
            public String name() {
                return m.name();
            }

            @Override
            public int rows() {
                return m.rows();
            }

            @Override
            public int cols() {
                return m.cols();
            }

            @Override
            public Format format() {
                return m.format();
            }

            @Override
            public long byteSize() {
                return m.byteSize();
            }

            @Override
            public void rowToFloats(int r, float[] out, int off) {
                m.rowToFloats(r, out, off);
            }
        };
        int cols = m.cols();
        float[] x = new float[cols + 1];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] fast = new float[m.rows()];
        float[] slow = new float[m.rows()];
        m.matVec(x, 1, fast, 0, pool);
        generic.matVec(x, 1, slow, 0, pool);
        float[] row = new float[cols];
        for (int r = 0; r < m.rows(); r++) {
            m.rowToFloats(r, row, 0);
            double abs = 0;
            for (int c = 0; c < cols; c++) {
                abs += Math.abs((double) row[c] * x[1 + c]);
            }
            double tol = 2 * (cols + 2) * 0x1p-24 * abs + xQuantization(m.format(), row, x, 1);
            assertTrue(
                    Math.abs(fast[r] - slow[r]) <= tol,
                    m + " row " + r + ": decode " + fast[r] + ", generic " + slow[r] + " (tol " + tol + ")");
        }
    }

    /**
     * What the decode kernel's quantizing of x may cost a row's product, for the formats whose kernel quantizes
     * x to Q8_0 blocks as llama.cpp does (Q8_0, Q4_K, Q6_K): each x within half a step {@code d = max|x|/127} of its 32-column
     * block (plus the rounding of {@code x/d}), so {@code |Σ w·(x - x̂)| ≤ Σ_blocks d·(1/2 + 2⁻¹⁶)·Σ |w|}. Zero for
     * the formats whose kernel multiplies by x itself.
     */
    static double xQuantization(Format f, float[] row, float[] x, int xOff) {
        if (f != Format.Q8_0 && f != Format.Q4_K && f != Format.Q6_K) {
            return 0;
        }
        double bound = 0;
        for (int b = 0; b < row.length; b += 32) {
            double max = 0;
            double w = 0;
            for (int j = b; j < b + 32; j++) {
                max = Math.max(max, Math.abs(x[xOff + j]));
                w += Math.abs(row[j]);
            }
            bound += max / 127 * (0.5 + 0x1p-16) * w;
        }
        return bound;
    }

    /** {@link MatrixProduct#multiply} at {@code tokens} tokens against a double product of the reference rows. */
    static void assertProduct(BlockMatrix m, float[][] ref, int tokens, Random rnd) {
        int rows = m.rows();
        int cols = m.cols();
        int xStride = cols + 3;
        int outStride = rows + 5;
        float[] x = new float[2 + tokens * xStride];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] out = new float[1 + tokens * outStride];
        MatrixProduct.multiply(m, x, 2, xStride, tokens, out, 1, outStride, pool);
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double abs = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) ref[r][c] * x[2 + t * xStride + c];
                    exact += p;
                    abs += Math.abs(p);
                }
                double tol = (cols + 2) * 0x1p-24 * abs
                        + (tokens == 1 ? xQuantization(m.format(), ref[r], x, 2 + t * xStride) : 0);
                double got = out[1 + t * outStride + r];
                assertTrue(
                        Math.abs(got - exact) <= tol,
                        m + " tokens " + tokens + " token " + t + " row " + r + ": " + got + " vs " + exact + " (tol "
                                + tol + ")");
            }
        }
    }
}
