package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The products of any {@link Weight} through its {@link Weight#rowToFloats}: each row decoded once per call into
 * a per-thread float row, then dotted with every token's x. Correct for every format; the formats with kernels
 * of their own use it only where they have none.
 */
final class DecodedRows {

    /** Rows per unit the pool hands out. */
    private static final int ROWS = 4;

    private DecodedRows() {}

    private static final class Job extends ProductJob<Weight> {
        @Override
        int prepare() {
            return (w.rows() + ROWS - 1) / ROWS;
        }

        @Override
        public void run(int from, int to) {
            int cols = w.cols();
            float[] row = Scratch.floats(ROW, cols);
            for (int r = from * ROWS; r < Math.min(to * ROWS, w.rows()); r++) {
                w.rowToFloats(r, row, 0);
                for (int t = 0; t < tokens; t++) {
                    out[outOff + t * outStride + r] = dot(row, x, xOff + t * xStride, cols);
                }
            }
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: one decoded row. */
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    /** The product for {@code tokens} tokens, rows split across the pool. */
    static void multiply(
            Weight w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        JOBS.get().start(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /** Elements between scratch rows beyond their width: one cache line (also {@link Matrix}'s gathers). */
    static final int ROW_PAD = 16;
    /** Per thread: the tile's rows decoded, {@link #ROW_PAD} apart. */
    private static final ThreadLocal<float[]> TILE_ROWS = ThreadLocal.withInitial(() -> new float[0]);
    /** Per thread: the gather's lane offsets, scratch row {@code i} at lane {@code i}. */
    private static final ThreadLocal<int[]> GATHER = ThreadLocal.withInitial(() -> new int[F.length()]);

    /**
     * {@link Weight#transposedRows} through {@link Weight#rowToFloats}. For {@link MatMul}'s tiles (two vectors of
     * rows) the rows are decoded whole into scratch rows a cache line more than a row apart (so the rows' lines at
     * one column fall in different L1 sets), then each column of the tile is two vector gathers: storing each
     * row's floats one by one across the tile (128-256 KiB, in L2) costs as much as the products at 64-token
     * chunks.
     */
    static void transposed(Weight w, int r0, int count, float[] tile, int width) {
        int cols = w.cols();
        int lanesPerVector = F.length();
        if (width != 2 * lanesPerVector) {
            transposedScalar(w, r0, count, tile, width, cols);
            return;
        }
        int stride = cols + ROW_PAD;
        float[] rows = Scratch.floats(TILE_ROWS, width * stride);
        for (int k = 0; k < width; k++) {
            if (k < count) {
                w.rowToFloats(r0 + k, rows, k * stride);
            } else {
                Arrays.fill(rows, k * stride, k * stride + cols, 0f);
            }
        }
        int[] lanes = gatherOffsets(stride);
        int hiRows = lanesPerVector * stride;
        for (int c = 0; c < cols; c++) {
            FloatVector.fromArray(F, rows, c, lanes, 0).intoArray(tile, c * width);
            FloatVector.fromArray(F, rows, c + hiRows, lanes, 0).intoArray(tile, c * width + lanesPerVector);
        }
    }

    /** This thread's gather offsets for scratch rows {@code stride} elements apart: row {@code i} at lane {@code i}. */
    static int[] gatherOffsets(int stride) {
        int[] lanes = GATHER.get();
        for (int i = 0; i < lanes.length; i++) {
            lanes[i] = i * stride;
        }
        return lanes;
    }

    private static void transposedScalar(Weight w, int r0, int count, float[] tile, int width, int cols) {
        float[] row = Scratch.floats(ROW, cols);
        for (int i = 0; i < width; i++) {
            if (i < count) {
                w.rowToFloats(r0 + i, row, 0);
            } else {
                Arrays.fill(row, 0, cols, 0f);
            }
            for (int c = 0; c < cols; c++) {
                tile[c * width + i] = row[c];
            }
        }
    }

    /** {@code Σ_c a[c] · x[xOff + c]}. */
    private static float dot(float[] a, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += F.length()) {
            acc = FloatVector.fromArray(F, a, c).fma(FloatVector.fromArray(F, x, xOff + c), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; c < n; c++) {
            sum += a[c] * x[xOff + c];
        }
        return sum;
    }
}
