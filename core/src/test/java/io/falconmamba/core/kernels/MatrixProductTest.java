package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.KernelsTest.POOL;
import static io.falconmamba.core.kernels.KernelsTest.absDot;
import static io.falconmamba.core.kernels.KernelsTest.assertClose;
import static io.falconmamba.core.kernels.KernelsTest.randomMatrix;
import static io.falconmamba.core.kernels.KernelsTest.randomVector;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The one dispatch point ({@link MatrixProduct}) and the generic path a new format starts with ({@link Weight}'s
 * defaults over {@link Weight#rowToFloats}).
 */
class MatrixProductTest {

    /** A format with nothing but {@link #rowToFloats}: every product comes from the interface's defaults. */
    record RowsOnly(float[][] values) implements Weight {
        @Override
        public String name() {
            return "rows-only";
        }

        @Override
        public int rows() {
            return values.length;
        }

        @Override
        public int cols() {
            return values[0].length;
        }

        @Override
        public Format format() {
            return Format.F32;
        }

        @Override
        public long byteSize() {
            return 4L * rows() * cols();
        }

        @Override
        public void rowToFloats(int r, float[] out, int off) {
            System.arraycopy(values[r], 0, out, off, cols());
        }
    }

    /** Records which product {@link MatrixProduct} called, and with how many tokens. */
    static final class Recording implements Weight {
        final List<String> calls = new ArrayList<>();

        @Override
        public String name() {
            return "recording";
        }

        @Override
        public int rows() {
            return 3;
        }

        @Override
        public int cols() {
            return 5;
        }

        @Override
        public Format format() {
            return Format.F32;
        }

        @Override
        public long byteSize() {
            return 60;
        }

        @Override
        public void rowToFloats(int r, float[] out, int off) {
            throw new AssertionError("not used");
        }

        @Override
        public int fewTokens() {
            return 6;
        }

        @Override
        public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
            calls.add("matVec");
        }

        @Override
        public void matVecs(
                float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
            calls.add("matVecs " + tokens);
        }

        @Override
        public void matMul(
                float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
            calls.add("matMul " + tokens);
        }
    }

    @Test
    void picksThePathByTokenCount() {
        Recording w = new Recording();
        for (int tokens : new int[] {0, 1, 2, 5, 6, 40}) {
            MatrixProduct.multiply(w, new float[0], 0, 5, tokens, new float[0], 0, 3, POOL);
        }
        assertEquals(List.of("matVec", "matVecs 2", "matVecs 5", "matMul 6", "matMul 40"), w.calls);
    }

    /** The defaults alone give every product (one token, a few, many through MatMul's tiles). */
    @Test
    void genericPathMatchesScalar() {
        Random rnd = new Random(5);
        for (int rows : new int[] {1, 7, 37}) {
            for (int cols : new int[] {1, 19, 64}) {
                float[][] values = new float[rows][];
                for (int r = 0; r < rows; r++) {
                    values[r] = randomVector(rnd, cols);
                }
                RowsOnly w = new RowsOnly(values);
                for (int tokens : new int[] {1, 2, 3, 8, 13, 25}) {
                    int xStride = cols + 2;
                    int outStride = rows + 1;
                    float[] x = randomVector(rnd, 1 + tokens * xStride);
                    float[] viaMatVecs = new float[tokens * outStride];
                    float[] viaTiles = new float[tokens * outStride];
                    if (tokens == 1) {
                        w.matVec(x, 1, viaMatVecs, 0, POOL);
                    } else {
                        w.matVecs(x, 1, xStride, tokens, viaMatVecs, 0, outStride, POOL);
                    }
                    w.matMul(x, 1, xStride, tokens, viaTiles, 0, outStride, POOL);
                    for (int t = 0; t < tokens; t++) {
                        float[] xt = Arrays.copyOfRange(x, 1 + t * xStride, 1 + t * xStride + cols);
                        float[] want = ScalarKernels.matVec(values, xt);
                        for (int r = 0; r < rows; r++) {
                            String what = rows + "×" + cols + ", " + tokens + " tokens: token " + t + " row " + r;
                            double scale = absDot(values[r], xt);
                            assertClose(want[r], viaMatVecs[t * outStride + r], scale, "matVecs " + what);
                            assertClose(want[r], viaTiles[t * outStride + r], scale, "tiles " + what);
                        }
                    }
                }
            }
        }
    }

    /**
     * A token's outputs from {@link MatMul} are the same bits whichever kernel takes it: grouped with eleven others,
     * in a six, four, two or alone (the call is shifted by a token at a time, so each token meets each kernel).
     * Chunked and parallel prefill rely on it to agree.
     */
    @Test
    void matMulOutputsDoNotDependOnTheTokensGroupedWithThem() {
        Random rnd = new Random(12);
        int rows = 2 * MatMul.ROW_TILE + 5;
        int cols = 37;
        Matrix m = randomMatrix(rnd, rows, cols, Format.F32).matrix();
        int tokens = 2 * MatMul.GROUP + 6 + 4 + 2 + 1;
        float[] x = randomVector(rnd, tokens * cols);
        float[] all = new float[tokens * rows];
        MatMul.multiply(m, x, 0, cols, tokens, all, 0, rows, POOL);
        for (int skip = 1; skip < MatMul.GROUP + 2; skip++) {
            int part = tokens - skip;
            float[] some = new float[part * rows];
            MatMul.multiply(m, x, skip * cols, cols, part, some, 0, rows, POOL);
            for (int i = 0; i < some.length; i++) {
                assertEquals(
                        Float.floatToRawIntBits(all[skip * rows + i]),
                        Float.floatToRawIntBits(some[i]),
                        "token " + (skip + i / rows) + " row " + i % rows + " in a call from token " + skip);
            }
        }
    }

    /**
     * Each format's own tile fill gives what the generic fill gives from its rows, bit for bit; padding rows are
     * zero of either sign (a Q4_0 padding row is {@code (0 - 8) · 0}), which the masked stores never write out.
     */
    @Test
    void tileFillsAgreeWithTheGenericOne() {
        Random rnd = new Random(9);
        int width = MatMul.ROW_TILE;
        for (Format type : KernelsTest.ELEMENT_FORMATS) {
            Matrix m = randomMatrix(rnd, 2 * width + 3, 33, type).matrix();
            List<Weight> forms = new ArrayList<>(List.of(m));
            if (PackedMatrix.packable(m)) {
                forms.add(PackedMatrix.pack(m, java.lang.foreign.Arena.ofAuto(), POOL));
            }
            forms.add(QuantizedMatrix.quantize(
                    randomMatrix(rnd, 2 * width + 3, 64, type).matrix(),
                    Format.Q4_0,
                    java.lang.foreign.Arena.ofAuto(),
                    POOL));
            for (Weight w : forms) {
                for (int r0 = 0; r0 < w.rows(); r0 += width) {
                    int count = Math.min(width, w.rows() - r0);
                    float[] own = new float[width * w.cols()];
                    float[] generic = new float[width * w.cols()];
                    Arrays.fill(own, Float.NaN);
                    w.transposedRows(r0, count, own, width);
                    DecodedRows.transposed(w, r0, count, generic, width);
                    for (int i = 0; i < own.length; i++) {
                        boolean padding = i % width >= count;
                        assertEquals(
                                padding ? 0 : Float.floatToRawIntBits(generic[i]),
                                padding && own[i] == 0f ? 0 : Float.floatToRawIntBits(own[i]),
                                w.getClass().getSimpleName() + " " + w.format() + " rows from " + r0 + " element " + i);
                    }
                }
            }
        }
    }

    @Test
    void formatSizesRows() {
        assertEquals(4L * 10, Format.F32.rowBytes(10));
        assertEquals(2L * 10, Format.BF16.rowBytes(10));
        assertEquals(34L * 2, Format.Q8_0.rowBytes(64));
        assertEquals(18L * 2, Format.Q4_0.rowBytes(64));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Format.Q4_0.rowBytes(40));
        assertEquals("40 weights do not split into q4_0 blocks of 32", e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> new Matrix("m", 1, 32, Format.Q8_0, java.lang.foreign.MemorySegment.ofArray(new byte[34])));
    }
}
