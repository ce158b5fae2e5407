package io.falconmamba.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static io.falconmamba.core.kernels.Convert.F;

/**
 * Matrix × matrix, the prefill (and batch decode) path: for each of T activation rows {@code X[t]},
 * {@code out[t, r] = Σ_c W[r, c] · X[t, c]}.
 *
 * <p>Prefill is bound by arithmetic, so a tile of weight rows is widened to float once and then reused
 * against a block of tokens, four rows per pass so each activation load feeds four FMAs.
 */
public final class MatMul {

    /** Weight rows widened together and reused across a token block. */
    static final int ROW_TILE = 4;
    /** Tokens per block: the block of X stays in cache while the row tiles stream past it. */
    static final int TOKEN_BLOCK = 32;

    private MatMul() {
    }

    private static final class Job implements ThreadPool.RangeTask {
        Matrix w;
        float[] x;
        int xOff;
        int xStride;
        int tokens;
        float[] out;
        int outOff;
        int outStride;

        @Override
        public void run(int fromTile, int toTile) {
            int from = fromTile * ROW_TILE;
            int to = Math.min(w.rows(), toTile * ROW_TILE);
            rows(w, x, xOff, xStride, tokens, out, outOff, outStride, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    private static final ThreadLocal<float[]> TILES = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * {@code out[outOff + t*outStride + r] = W[r] · x[xOff + t*xStride ..]} for {@code t < tokens} and every row,
     * split by row tiles across the pool's threads.
     */
    public static void multiply(Matrix w, float[] x, int xOff, int xStride, int tokens,
                                float[] out, int outOff, int outStride, ThreadPool pool) {
        Job job = JOBS.get();
        job.w = w;
        job.x = x;
        job.xOff = xOff;
        job.xStride = xStride;
        job.tokens = tokens;
        job.out = out;
        job.outOff = outOff;
        job.outStride = outStride;
        try {
            pool.parallelFor((w.rows() + ROW_TILE - 1) / ROW_TILE, job);
        } finally {
            job.w = null;
            job.x = null;
            job.out = null;
        }
    }

    /** Single-threaded over weight rows {@code [from, to)}. */
    static void rows(Matrix w, float[] x, int xOff, int xStride, int tokens,
                     float[] out, int outOff, int outStride, int from, int to) {
        int n = w.cols();
        float[] tile = TILES.get();
        if (tile.length < ROW_TILE * n) {
            tile = new float[ROW_TILE * n];
            TILES.set(tile);
        }
        for (int t0 = 0; t0 < tokens; t0 += TOKEN_BLOCK) {
            int t1 = Math.min(tokens, t0 + TOKEN_BLOCK);
            for (int r = from; r < to; r += ROW_TILE) {
                int count = Math.min(ROW_TILE, to - r);
                for (int k = 0; k < count; k++) {
                    w.rowToFloats(r + k, tile, k * n);
                }
                if (count == ROW_TILE) {
                    int t = t0;
                    for (; t + 4 <= t1; t += 4) {
                        dot4x4(tile, n, x, xOff + t * xStride, xStride, out, outOff + t * outStride + r, outStride);
                    }
                    for (; t < t1; t++) {
                        dot4(tile, n, x, xOff + t * xStride, out, outOff + t * outStride + r);
                    }
                } else {
                    for (int t = t0; t < t1; t++) {
                        for (int k = 0; k < count; k++) {
                            out[outOff + t * outStride + r + k] = dot(tile, k * n, x, xOff + t * xStride, n);
                        }
                    }
                }
            }
        }
    }

    /**
     * Four rows of the tile against four activation rows: sixteen accumulators, so each of the eight loads per
     * step feeds two FMAs instead of the 5 loads per 4 FMAs of {@link #dot4}.
     */
    private static void dot4x4(float[] tile, int n, float[] x, int xOff, int xStride, float[] out, int o, int outStride) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int x0 = xOff;
        int x1 = xOff + xStride;
        int x2 = xOff + 2 * xStride;
        int x3 = xOff + 3 * xStride;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, tile, i);
            FloatVector w1 = FloatVector.fromArray(F, tile, n + i);
            FloatVector w2 = FloatVector.fromArray(F, tile, 2 * n + i);
            FloatVector w3 = FloatVector.fromArray(F, tile, 3 * n + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v, a00);
            a10 = w1.fma(v, a10);
            a20 = w2.fma(v, a20);
            a30 = w3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = w0.fma(v, a01);
            a11 = w1.fma(v, a11);
            a21 = w2.fma(v, a21);
            a31 = w3.fma(v, a31);
            v = FloatVector.fromArray(F, x, x2 + i);
            a02 = w0.fma(v, a02);
            a12 = w1.fma(v, a12);
            a22 = w2.fma(v, a22);
            a32 = w3.fma(v, a32);
            v = FloatVector.fromArray(F, x, x3 + i);
            a03 = w0.fma(v, a03);
            a13 = w1.fma(v, a13);
            a23 = w2.fma(v, a23);
            a33 = w3.fma(v, a33);
        }
        int o1 = o + outStride;
        int o2 = o + 2 * outStride;
        int o3 = o + 3 * outStride;
        out[o] = a00.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[o1] = a01.reduceLanes(VectorOperators.ADD);
        out[o1 + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o1 + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o1 + 3] = a31.reduceLanes(VectorOperators.ADD);
        out[o2] = a02.reduceLanes(VectorOperators.ADD);
        out[o2 + 1] = a12.reduceLanes(VectorOperators.ADD);
        out[o2 + 2] = a22.reduceLanes(VectorOperators.ADD);
        out[o2 + 3] = a32.reduceLanes(VectorOperators.ADD);
        out[o3] = a03.reduceLanes(VectorOperators.ADD);
        out[o3 + 1] = a13.reduceLanes(VectorOperators.ADD);
        out[o3 + 2] = a23.reduceLanes(VectorOperators.ADD);
        out[o3 + 3] = a33.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            for (int t = 0; t < 4; t++) {
                float xi = x[xOff + t * xStride + i];
                int ot = o + t * outStride;
                for (int k = 0; k < 4; k++) {
                    out[ot + k] += tile[k * n + i] * xi;
                }
            }
        }
    }

    /** Four rows of the tile against one activation row. */
    private static void dot4(float[] tile, int n, float[] x, int xOff, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, tile, i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, tile, n + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, tile, 2 * n + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, tile, 3 * n + i).fma(xv, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        float s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 += tile[i] * xi;
            s1 += tile[n + i] * xi;
            s2 += tile[2 * n + i] * xi;
            s3 += tile[3 * n + i] * xi;
        }
        out[o] = s0;
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
    }

    private static float dot(float[] a, int aOff, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * x[xOff + i];
        }
        return s;
    }
}
