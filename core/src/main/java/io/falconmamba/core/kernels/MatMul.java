package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;

/**
 * Matrix × many vectors, the prefill path of every {@link Weight}: for each of T activation rows {@code X[t]},
 * {@code out[t, r] = Σ_c W[r, c] · X[t, c]}.
 *
 * <p>Prefill is bound by arithmetic. A tile of one vector's width of weight rows is widened to float once and
 * stored transposed (column {@code c} of the tile is one vector), then every token streams past it: per column,
 * one vector load of weights and one broadcast of {@code X[t, c]} per token feed one FMA per token, accumulating
 * a vector of outputs {@code out[t, r .. r+16)} directly — no horizontal reductions.
 */
final class MatMul {

    /** Weight rows per tile: two float vectors' lanes. */
    static final int ROW_TILE = 2 * F.length();

    private static final int L = F.length();

    private MatMul() {}

    private static final class Job extends ProductJob<Weight> {
        @Override
        int prepare() {
            return (w.rows() + ROW_TILE - 1) / ROW_TILE;
        }

        @Override
        public void run(int from, int to) {
            tiles(w, x, xOff, xStride, tokens, out, outOff, outStride, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: the kernels' sums, {@link #ROW_TILE} per token for up to six tokens. */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[6 * ROW_TILE]);

    /** Per thread: the transposed tile. */
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * {@code out[outOff + t*outStride + r] = W[r] · x[xOff + t*xStride ..]} for {@code t < tokens} and every row,
     * split by row tiles across the pool's threads; {@link Weight#transposedRows} fills the tiles.
     */
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

    /** Single-threaded over row tiles {@code [fromTile, toTile)}. */
    static void tiles(
            Weight w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            int fromTile,
            int toTile) {
        int n = w.cols();
        float[] tileT = TILE.get();
        float[] sums = SUMS.get();
        if (tileT.length < ROW_TILE * n) {
            tileT = new float[ROW_TILE * n];
            TILE.set(tileT);
        }
        for (int tile = fromTile; tile < toTile; tile++) {
            int r0 = tile * ROW_TILE;
            int count = Math.min(ROW_TILE, w.rows() - r0);
            w.transposedRows(r0, count, tileT, ROW_TILE);
            int o = outOff + r0;
            int t = 0;
            for (; t + 6 <= tokens; t += 6) {
                kernel6(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 6, count, out, o + t * outStride, outStride);
            }
            // The last tokens in fours and twos: one at a time the weight loads outnumber the FMAs (a 64-token
            // chunk is ten groups of six and four left over, which kernel1 ran at a quarter of kernel6's rate).
            if (t + 4 <= tokens) {
                kernel4(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 4, count, out, o + t * outStride, outStride);
                t += 4;
            }
            if (t + 2 <= tokens) {
                kernel2(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 2, count, out, o + t * outStride, outStride);
                t += 2;
            }
            for (; t < tokens; t++) {
                kernel1(tileT, n, x, xOff + t * xStride, sums);
                copyOut(sums, 1, count, out, o + t * outStride, outStride);
            }
        }
    }

    /**
     * The first {@code count} sums of each of {@code tokens} tokens into {@code out}. The kernels store their
     * accumulators whole into {@code sums} rather than masked into {@code out}: masked stores expand to many IR
     * nodes, and with six of them kernel6 passed C2's inlining node budget in some JVM runs: a store helper taking
     * the accumulators stayed a call, so they had to exist as boxed objects, and prefill ran several times slower
     * in those runs.
     */
    private static void copyOut(float[] sums, int tokens, int count, float[] out, int o, int outStride) {
        for (int t = 0; t < tokens; t++) {
            System.arraycopy(sums, t * ROW_TILE, out, o + t * outStride, count);
        }
    }

    /** Six tokens against the two-vector tile: twelve accumulators, two weight loads and six broadcasts per column. */
    private static void kernel6(float[] tileT, int n, float[] x, int xOff, int xStride, float[] sums) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F), a4 = FloatVector.zero(F), a5 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F), b4 = FloatVector.zero(F), b5 = FloatVector.zero(F);
        int x0 = xOff, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        for (int c = 0; c < n; c++) {
            FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
            FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
            FloatVector v = FloatVector.broadcast(F, x[x0 + c]);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, x[x1 + c]);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, x[x2 + c]);
            a2 = wa.fma(v, a2);
            b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, x[x3 + c]);
            a3 = wa.fma(v, a3);
            b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, x[x4 + c]);
            a4 = wa.fma(v, a4);
            b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, x[x5 + c]);
            a5 = wa.fma(v, a5);
            b5 = wb.fma(v, b5);
        }
        a0.intoArray(sums, 0);
        b0.intoArray(sums, L);
        a1.intoArray(sums, ROW_TILE);
        b1.intoArray(sums, ROW_TILE + L);
        a2.intoArray(sums, 2 * ROW_TILE);
        b2.intoArray(sums, 2 * ROW_TILE + L);
        a3.intoArray(sums, 3 * ROW_TILE);
        b3.intoArray(sums, 3 * ROW_TILE + L);
        a4.intoArray(sums, 4 * ROW_TILE);
        b4.intoArray(sums, 4 * ROW_TILE + L);
        a5.intoArray(sums, 5 * ROW_TILE);
        b5.intoArray(sums, 5 * ROW_TILE + L);
    }

    /** Four tokens: eight accumulators, as {@link #kernel6}. */
    private static void kernel4(float[] tileT, int n, float[] x, int xOff, int xStride, float[] sums) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F);
        int x0 = xOff, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        for (int c = 0; c < n; c++) {
            FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
            FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
            FloatVector v = FloatVector.broadcast(F, x[x0 + c]);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, x[x1 + c]);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, x[x2 + c]);
            a2 = wa.fma(v, a2);
            b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, x[x3 + c]);
            a3 = wa.fma(v, a3);
            b3 = wb.fma(v, b3);
        }
        a0.intoArray(sums, 0);
        b0.intoArray(sums, L);
        a1.intoArray(sums, ROW_TILE);
        b1.intoArray(sums, ROW_TILE + L);
        a2.intoArray(sums, 2 * ROW_TILE);
        b2.intoArray(sums, 2 * ROW_TILE + L);
        a3.intoArray(sums, 3 * ROW_TILE);
        b3.intoArray(sums, 3 * ROW_TILE + L);
    }

    /** Two tokens: four accumulators. */
    private static void kernel2(float[] tileT, int n, float[] x, int xOff, int xStride, float[] sums) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        int x0 = xOff, x1 = x0 + xStride;
        for (int c = 0; c < n; c++) {
            FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
            FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
            FloatVector v = FloatVector.broadcast(F, x[x0 + c]);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, x[x1 + c]);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
        }
        a0.intoArray(sums, 0);
        b0.intoArray(sums, L);
        a1.intoArray(sums, ROW_TILE);
        b1.intoArray(sums, ROW_TILE + L);
    }

    /** One token: the tile's two vectors of outputs. */
    private static void kernel1(float[] tileT, int n, float[] x, int xOff, float[] sums) {
        FloatVector a = FloatVector.zero(F);
        FloatVector b = FloatVector.zero(F);
        for (int c = 0; c < n; c++) {
            FloatVector v = FloatVector.broadcast(F, x[xOff + c]);
            a = FloatVector.fromArray(F, tileT, c * ROW_TILE).fma(v, a);
            b = FloatVector.fromArray(F, tileT, c * ROW_TILE + L).fma(v, b);
        }
        a.intoArray(sums, 0);
        b.intoArray(sums, L);
    }
}
