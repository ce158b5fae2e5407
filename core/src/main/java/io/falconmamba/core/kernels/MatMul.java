package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;

/**
 * Matrix × many vectors, the prefill path of every {@link Weight}: for each of T activation rows {@code X[t]},
 * {@code out[t, r] = Σ_c W[r, c] · X[t, c]}.
 *
 * <p>Prefill is bound by arithmetic. A tile of two vectors' width of weight rows is widened to float once and
 * stored transposed (column {@code c} of the tile is two vectors), then every token streams past it: per column,
 * two vector loads of weights and one broadcast of {@code X[t, c]} per token feed two FMAs per token,
 * accumulating vectors of outputs {@code out[t, r ..]} directly — no horizontal reductions. Tokens go through in
 * groups of {@link #GROUP}, read from a copy of x in the {@link TokenGroups} layout so that one column's
 * broadcasts share a cache line; the last tokens of a call go in sixes, fours, twos and ones from x's rows.
 * Every output is one FMA chain over the columns in order, whichever kernel computes it, so a token's outputs
 * do not depend on how the call groups it.
 */
final class MatMul {

    /** Weight rows per tile: two float vectors' lanes. */
    static final int ROW_TILE = 2 * F.length();

    private static final int L = F.length();

    /**
     * Tokens per pass of the main kernel: twelve where vectors are 512 bits wide (x86 then has 32 vector
     * registers, and 24 accumulators leave room for the weights and a broadcast), six otherwise (12 of AVX2's 16).
     */
    static final int GROUP = L >= 16 ? 12 : 6;

    private MatMul() {}

    private static final class Job extends ProductJob<Weight> {
        /** The first {@code groups·GROUP} tokens of x in the {@link TokenGroups} layout. */
        float[] xs = new float[0];

        int groups;

        @Override
        int prepare() {
            int n = w.cols();
            groups = tokens / GROUP;
            if (xs.length < groups * GROUP * n) {
                xs = new float[groups * GROUP * n];
            }
            for (int t = 0; t < groups * GROUP; t++) {
                TokenGroups.put(x, xOff + t * xStride, n, xs, t, GROUP);
            }
            return (w.rows() + ROW_TILE - 1) / ROW_TILE;
        }

        @Override
        public void run(int from, int to) {
            tiles(this, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: the kernels' sums, {@link #ROW_TILE} per token for up to {@link #GROUP} tokens. */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[GROUP * ROW_TILE]);

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
    private static void tiles(Job j, int fromTile, int toTile) {
        Weight w = j.w;
        int n = w.cols();
        float[] x = j.x;
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
            int o = j.outOff + r0;
            for (int g = 0; g < j.groups; g++) {
                if (GROUP == 12) {
                    grouped12(tileT, n, j.xs, g * GROUP * n, sums);
                } else {
                    grouped6(tileT, n, j.xs, g * GROUP * n, sums);
                }
                copyOut(sums, GROUP, count, j.out, o + g * GROUP * j.outStride, j.outStride);
            }
            int t = j.groups * GROUP;
            int xOff = j.xOff;
            int xStride = j.xStride;
            // The last tokens in sixes, fours and twos: one at a time the weight loads outnumber the FMAs.
            for (; t + 6 <= j.tokens; t += 6) {
                kernel6(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 6, count, j.out, o + t * j.outStride, j.outStride);
            }
            if (t + 4 <= j.tokens) {
                kernel4(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 4, count, j.out, o + t * j.outStride, j.outStride);
                t += 4;
            }
            if (t + 2 <= j.tokens) {
                kernel2(tileT, n, x, xOff + t * xStride, xStride, sums);
                copyOut(sums, 2, count, j.out, o + t * j.outStride, j.outStride);
                t += 2;
            }
            for (; t < j.tokens; t++) {
                kernel1(tileT, n, x, xOff + t * xStride, sums);
                copyOut(sums, 1, count, j.out, o + t * j.outStride, j.outStride);
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

    /**
     * Twelve grouped tokens ({@code xs} from {@code x0}: column {@code c} of token {@code k} at {@code x0 + 12c + k})
     * against the two-vector tile: 24 accumulators, two weight loads and twelve broadcasts from one cache line per
     * column. Two columns per iteration: C2 does not unroll a loop body this long, and the loop's own counter and
     * branch then take issue slots from the FMAs (a tenth more throughput unrolled, single-thread harness).
     */
    private static void grouped12(float[] tileT, int n, float[] xs, int x0, float[] sums) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
        FloatVector a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, b0 = a0;
        FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0;
        FloatVector b7 = a0, b8 = a0, b9 = a0, b10 = a0, b11 = a0;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            {
                FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
                FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
                FloatVector v = FloatVector.broadcast(F, xs[x0 + 12 * c]);
                a0 = wa.fma(v, a0);
                b0 = wb.fma(v, b0);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 1]);
                a1 = wa.fma(v, a1);
                b1 = wb.fma(v, b1);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 2]);
                a2 = wa.fma(v, a2);
                b2 = wb.fma(v, b2);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 3]);
                a3 = wa.fma(v, a3);
                b3 = wb.fma(v, b3);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 4]);
                a4 = wa.fma(v, a4);
                b4 = wb.fma(v, b4);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 5]);
                a5 = wa.fma(v, a5);
                b5 = wb.fma(v, b5);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 6]);
                a6 = wa.fma(v, a6);
                b6 = wb.fma(v, b6);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 7]);
                a7 = wa.fma(v, a7);
                b7 = wb.fma(v, b7);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 8]);
                a8 = wa.fma(v, a8);
                b8 = wb.fma(v, b8);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 9]);
                a9 = wa.fma(v, a9);
                b9 = wb.fma(v, b9);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 10]);
                a10 = wa.fma(v, a10);
                b10 = wb.fma(v, b10);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 11]);
                a11 = wa.fma(v, a11);
                b11 = wb.fma(v, b11);
            }
            {
                FloatVector wa = FloatVector.fromArray(F, tileT, (c + 1) * ROW_TILE);
                FloatVector wb = FloatVector.fromArray(F, tileT, (c + 1) * ROW_TILE + L);
                FloatVector v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12]);
                a0 = wa.fma(v, a0);
                b0 = wb.fma(v, b0);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 1]);
                a1 = wa.fma(v, a1);
                b1 = wb.fma(v, b1);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 2]);
                a2 = wa.fma(v, a2);
                b2 = wb.fma(v, b2);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 3]);
                a3 = wa.fma(v, a3);
                b3 = wb.fma(v, b3);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 4]);
                a4 = wa.fma(v, a4);
                b4 = wb.fma(v, b4);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 5]);
                a5 = wa.fma(v, a5);
                b5 = wb.fma(v, b5);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 6]);
                a6 = wa.fma(v, a6);
                b6 = wb.fma(v, b6);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 7]);
                a7 = wa.fma(v, a7);
                b7 = wb.fma(v, b7);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 8]);
                a8 = wa.fma(v, a8);
                b8 = wb.fma(v, b8);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 9]);
                a9 = wa.fma(v, a9);
                b9 = wb.fma(v, b9);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 10]);
                a10 = wa.fma(v, a10);
                b10 = wb.fma(v, b10);
                v = FloatVector.broadcast(F, xs[x0 + 12 * c + 12 + 11]);
                a11 = wa.fma(v, a11);
                b11 = wb.fma(v, b11);
            }
        }
        if (c < n) {
            FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
            FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
            FloatVector v = FloatVector.broadcast(F, xs[x0 + 12 * c]);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 1]);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 2]);
            a2 = wa.fma(v, a2);
            b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 3]);
            a3 = wa.fma(v, a3);
            b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 4]);
            a4 = wa.fma(v, a4);
            b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 5]);
            a5 = wa.fma(v, a5);
            b5 = wb.fma(v, b5);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 6]);
            a6 = wa.fma(v, a6);
            b6 = wb.fma(v, b6);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 7]);
            a7 = wa.fma(v, a7);
            b7 = wb.fma(v, b7);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 8]);
            a8 = wa.fma(v, a8);
            b8 = wb.fma(v, b8);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 9]);
            a9 = wa.fma(v, a9);
            b9 = wb.fma(v, b9);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 10]);
            a10 = wa.fma(v, a10);
            b10 = wb.fma(v, b10);
            v = FloatVector.broadcast(F, xs[x0 + 12 * c + 11]);
            a11 = wa.fma(v, a11);
            b11 = wb.fma(v, b11);
        }
        a0.intoArray(sums, 0 * ROW_TILE);
        b0.intoArray(sums, 0 * ROW_TILE + L);
        a1.intoArray(sums, 1 * ROW_TILE);
        b1.intoArray(sums, 1 * ROW_TILE + L);
        a2.intoArray(sums, 2 * ROW_TILE);
        b2.intoArray(sums, 2 * ROW_TILE + L);
        a3.intoArray(sums, 3 * ROW_TILE);
        b3.intoArray(sums, 3 * ROW_TILE + L);
        a4.intoArray(sums, 4 * ROW_TILE);
        b4.intoArray(sums, 4 * ROW_TILE + L);
        a5.intoArray(sums, 5 * ROW_TILE);
        b5.intoArray(sums, 5 * ROW_TILE + L);
        a6.intoArray(sums, 6 * ROW_TILE);
        b6.intoArray(sums, 6 * ROW_TILE + L);
        a7.intoArray(sums, 7 * ROW_TILE);
        b7.intoArray(sums, 7 * ROW_TILE + L);
        a8.intoArray(sums, 8 * ROW_TILE);
        b8.intoArray(sums, 8 * ROW_TILE + L);
        a9.intoArray(sums, 9 * ROW_TILE);
        b9.intoArray(sums, 9 * ROW_TILE + L);
        a10.intoArray(sums, 10 * ROW_TILE);
        b10.intoArray(sums, 10 * ROW_TILE + L);
        a11.intoArray(sums, 11 * ROW_TILE);
        b11.intoArray(sums, 11 * ROW_TILE + L);
    }

    /** Six grouped tokens (as {@link #grouped12}, in groups of six): twelve accumulators, one column per iteration. */
    private static void grouped6(float[] tileT, int n, float[] xs, int x0, float[] sums) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, b0 = a0;
        FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
        for (int c = 0; c < n; c++) {
            FloatVector wa = FloatVector.fromArray(F, tileT, c * ROW_TILE);
            FloatVector wb = FloatVector.fromArray(F, tileT, c * ROW_TILE + L);
            FloatVector v = FloatVector.broadcast(F, xs[x0 + 6 * c]);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[x0 + 6 * c + 1]);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[x0 + 6 * c + 2]);
            a2 = wa.fma(v, a2);
            b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[x0 + 6 * c + 3]);
            a3 = wa.fma(v, a3);
            b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[x0 + 6 * c + 4]);
            a4 = wa.fma(v, a4);
            b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, xs[x0 + 6 * c + 5]);
            a5 = wa.fma(v, a5);
            b5 = wb.fma(v, b5);
        }
        a0.intoArray(sums, 0 * ROW_TILE);
        b0.intoArray(sums, 0 * ROW_TILE + L);
        a1.intoArray(sums, 1 * ROW_TILE);
        b1.intoArray(sums, 1 * ROW_TILE + L);
        a2.intoArray(sums, 2 * ROW_TILE);
        b2.intoArray(sums, 2 * ROW_TILE + L);
        a3.intoArray(sums, 3 * ROW_TILE);
        b3.intoArray(sums, 3 * ROW_TILE + L);
        a4.intoArray(sums, 4 * ROW_TILE);
        b4.intoArray(sums, 4 * ROW_TILE + L);
        a5.intoArray(sums, 5 * ROW_TILE);
        b5.intoArray(sums, 5 * ROW_TILE + L);
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
