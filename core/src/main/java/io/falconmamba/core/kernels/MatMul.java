package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import io.falconmamba.core.WeightType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;

/**
 * Matrix × matrix, the prefill (and batch decode) path: for each of T activation rows {@code X[t]},
 * {@code out[t, r] = Σ_c W[r, c] · X[t, c]}.
 *
 * <p>Prefill is bound by arithmetic. A tile of one vector's width of weight rows is widened to float once and
 * stored transposed (column {@code c} of the tile is one vector), then every token streams past it: per column,
 * one vector load of weights and one broadcast of {@code X[t, c]} per token feed one FMA per token, accumulating
 * a vector of outputs {@code out[t, r .. r+16)} directly — no horizontal reductions.
 */
public final class MatMul {

    /** Weight rows per tile: two float vectors' lanes. */
    static final int ROW_TILE = 2 * F.length();

    private static final int L = F.length();

    private MatMul() {}

    /**
     * Below this many tokens (batch decode, short prefill chunks) a transposed tile is not reused enough to pay
     * for itself: {@link BatchMatVec} streams the rows in place against every token instead. With AVX-512 (Zen 4,
     * best of 40, 2 threads, F16/BF16/F32, 8192×2048, 2048×4096 and 65024×2048) BatchMatVec is 12-40 % faster at
     * 40 and 64 tokens, about even at 80-96, and 12 % slower at 128. With AVX2 (Zen 3) the tiles win from 64:
     * fm-1.4b F16 chunked:64 prefill 18.0-20.5 → 21.8-23.1 tok/s (alternating jars); at 40 tokens BatchMatVec
     * is still as fast or faster.
     */
    static final int SMALL_BATCH = F.vectorBitSize() >= 512 ? 96 : 64;

    private static final class Job implements ThreadPool.RangeTask {
        Weight w;
        float[] x;
        int xOff;
        int xStride;
        int tokens;
        float[] out;
        int outOff;
        int outStride;

        @Override
        public void run(int from, int to) {
            tiles(w, x, xOff, xStride, tokens, out, outOff, outStride, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: [0] the transposed tile, [1] the tile's rows widened, row by row. */
    private static final ThreadLocal<float[][]> SCRATCH =
            ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0]});

    /**
     * {@code out[outOff + t*outStride + r] = W[r] · x[xOff + t*xStride ..]} for {@code t < tokens} and every row,
     * split by row tiles across the pool's threads.
     */
    public static void multiply(
            Matrix w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        if (tokens < SMALL_BATCH) {
            BatchMatVec.multiply(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
            return;
        }
        tiled(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /** The same product over a {@link PackedMatrix}, always through transposed tiles (few tokens: {@link PackedMatMul}). */
    public static void multiply(
            PackedMatrix w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        tiled(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /** The same product over a {@link QuantizedMatrix}, always through transposed tiles (few tokens: {@link QMatMul}). */
    public static void multiply(
            QuantizedMatrix w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        tiled(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    private static void tiled(
            Weight w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
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
            int parts = (w.rows() + ROW_TILE - 1) / ROW_TILE;
            pool.parallelFor(parts, job);
        } finally {
            job.w = null;
            job.x = null;
            job.out = null;
        }
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
        float[][] scratch = SCRATCH.get();
        if (scratch[0].length < ROW_TILE * n) {
            scratch[0] = new float[ROW_TILE * n];
            scratch[1] = new float[ROW_TILE * (n + ROW_PAD)];
        }
        float[] tileT = scratch[0];
        float[] rows = scratch[1];
        for (int tile = fromTile; tile < toTile; tile++) {
            int r0 = tile * ROW_TILE;
            int count = Math.min(ROW_TILE, w.rows() - r0);
            switch (w) {
                case Matrix m -> fillTile(m, r0, count, tileT, rows, n);
                case RowTiles p -> fillTile(p, tile, tileT, n);
                default -> throw new IllegalArgumentException("matrix " + w.name() + ": not a stored or tiled matrix");
            }
            VectorMask<Float> lo = F.indexInRange(0, count);
            VectorMask<Float> hi = F.indexInRange(L, count);
            int o = outOff + r0;
            int t = 0;
            for (; t + 6 <= tokens; t += 6) {
                kernel6(tileT, n, x, xOff + t * xStride, xStride, out, o + t * outStride, outStride, lo, hi);
            }
            // The last tokens in fours and twos: one at a time the weight loads outnumber the FMAs (a 64-token
            // chunk is ten groups of six and four left over, which kernel1 ran at a quarter of kernel6's rate).
            if (t + 4 <= tokens) {
                kernel4(tileT, n, x, xOff + t * xStride, xStride, out, o + t * outStride, outStride, lo, hi);
                t += 4;
            }
            if (t + 2 <= tokens) {
                kernel2(tileT, n, x, xOff + t * xStride, xStride, out, o + t * outStride, outStride, lo, hi);
                t += 2;
            }
            for (; t < tokens; t++) {
                kernel1(tileT, n, x, xOff + t * xStride, out, o + t * outStride, lo, hi);
            }
        }
    }

    /** Per thread: the gather's lane offsets, row {@code i} of the scratch rows at lane {@code i}. */
    private static final ThreadLocal<int[]> GATHER = ThreadLocal.withInitial(() -> new int[L]);
    /** Per thread: the tile's rows as stored, 16-bit weights two to an int (see {@link #fillTile16}). */
    private static final ThreadLocal<int[][]> RAW = ThreadLocal.withInitial(() -> new int[][] {new int[0]});
    /** Elements between scratch rows beyond their width: one cache line. */
    private static final int ROW_PAD = 16;

    /**
     * Rows {@code r0 .. r0+count} of a row-major matrix widened and transposed into the tile; the rest zero.
     * Each column of the tile is two vector gathers, one per vector of rows, from rows copied whole (one
     * sequential read of W each). Storing each row's floats one by one across the tile (128-256 KiB, in L2)
     * took as long as the products at 64-token chunks (JFR, fm-1.4b F16 mapped); a blocked scalar transpose
     * and an 8×8 register transpose were no faster than the gathers.
     */
    private static void fillTile(Matrix w, int r0, int count, float[] tileT, float[] rows, int n) {
        if (w.type() != WeightType.F32 && n >= 2) {
            fillTile16(w, r0, count, tileT, n);
            return;
        }
        // Rows a cache line more than n apart: n floats apart (8 or 16 KiB) the sixteen rows' lines at one column
        // fall in one L1 set (the blocked transpose thrashed it).
        int stride = n + ROW_PAD;
        for (int k = 0; k < ROW_TILE; k++) {
            if (k < count) {
                w.rowToFloats(r0 + k, rows, k * stride);
            } else {
                Arrays.fill(rows, k * stride, k * stride + n, 0f);
            }
        }
        int[] lanes = lanes(stride);
        int hiRows = L * stride;
        for (int c = 0; c < n; c++) {
            FloatVector.fromArray(F, rows, c, lanes, 0).intoArray(tileT, c * ROW_TILE);
            FloatVector.fromArray(F, rows, c + hiRows, lanes, 0).intoArray(tileT, c * ROW_TILE + L);
        }
    }

    /**
     * F16 and BF16 rows, transposed before they are widened: each gather of ints brings a column pair of eight
     * rows, half the gathers of gathering floats, and the pair is split and widened in registers as the packed
     * layout widens it ({@link PackedMatrix#even}: exact for finite halves; as in decode, F16 halves with the
     * all-ones exponent come out finite). An odd last column is widened one by one.
     * Fill of a 16×2048 F16 tile (Zen 3, one thread, from cache): 24-32 µs gathering floats, 14-17 µs so.
     */
    private static void fillTile16(Matrix w, int r0, int count, float[] tileT, int n) {
        int pairs = n / 2;
        int stride = pairs + ROW_PAD;
        int[][] scratch = RAW.get();
        if (scratch[0].length < ROW_TILE * stride) {
            scratch[0] = new int[ROW_TILE * stride];
        }
        int[] raw = scratch[0];
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        for (int k = 0; k < ROW_TILE; k++) {
            if (k < count) {
                MemorySegment.copy(data, Convert.I32, (r0 + k) * rowBytes, raw, k * stride, pairs);
            } else {
                Arrays.fill(raw, k * stride, k * stride + pairs, 0);
            }
        }
        int[] lanes = lanes(stride);
        int hiRows = L * stride;
        // The packed layout's widening of a pair (see PackedMatrix): the same lanes, gathered instead of stored.
        int shift = PackedMatrix.shift(w.type());
        int evenMask = PackedMatrix.evenMask(w.type());
        int oddMask = PackedMatrix.oddMask(w.type());
        float rebias = PackedMatrix.rebias(w.type());
        for (int p = 0; p < pairs; p++) {
            IntVector a = IntVector.fromArray(Convert.I, raw, p, lanes, 0);
            IntVector b = IntVector.fromArray(Convert.I, raw, p + hiRows, lanes, 0);
            int o = 2 * p * ROW_TILE;
            PackedMatrix.even(a, shift, evenMask, rebias).intoArray(tileT, o);
            PackedMatrix.even(b, shift, evenMask, rebias).intoArray(tileT, o + L);
            PackedMatrix.odd(a, shift, oddMask, rebias).intoArray(tileT, o + ROW_TILE);
            PackedMatrix.odd(b, shift, oddMask, rebias).intoArray(tileT, o + ROW_TILE + L);
        }
        if ((n & 1) != 0) {
            int c = n - 1;
            for (int k = 0; k < ROW_TILE; k++) {
                tileT[c * ROW_TILE + k] = k < count ? Convert.load(w.type(), data, (r0 + k) * rowBytes, c) : 0f;
            }
        }
    }

    /** This thread's gather offsets for rows {@code stride} elements apart. */
    private static int[] lanes(int stride) {
        int[] lanes = GATHER.get();
        for (int i = 0; i < L; i++) {
            lanes[i] = i * stride;
        }
        return lanes;
    }

    /** Two stored tiles are this tile's two vectors of rows, already by column (their padding rows are zero). */
    private static void fillTile(RowTiles w, int tile, float[] tileT, int n) {
        w.tileToFloats(2 * tile, tileT, 0, ROW_TILE);
        if (2 * tile + 1 < w.tiles()) {
            w.tileToFloats(2 * tile + 1, tileT, L, ROW_TILE);
        } else {
            for (int c = 0; c < n; c++) {
                Arrays.fill(tileT, c * ROW_TILE + L, (c + 1) * ROW_TILE, 0f);
            }
        }
    }

    /** Six tokens against the two-vector tile: twelve accumulators, two weight loads and six broadcasts per column. */
    private static void kernel6(
            float[] tileT,
            int n,
            float[] x,
            int xOff,
            int xStride,
            float[] out,
            int o,
            int outStride,
            VectorMask<Float> lo,
            VectorMask<Float> hi) {
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
        store(a0, b0, out, o, lo, hi);
        store(a1, b1, out, o + outStride, lo, hi);
        store(a2, b2, out, o + 2 * outStride, lo, hi);
        store(a3, b3, out, o + 3 * outStride, lo, hi);
        store(a4, b4, out, o + 4 * outStride, lo, hi);
        store(a5, b5, out, o + 5 * outStride, lo, hi);
    }

    /** Four tokens: eight accumulators, as {@link #kernel6}. */
    private static void kernel4(
            float[] tileT,
            int n,
            float[] x,
            int xOff,
            int xStride,
            float[] out,
            int o,
            int outStride,
            VectorMask<Float> lo,
            VectorMask<Float> hi) {
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
        store(a0, b0, out, o, lo, hi);
        store(a1, b1, out, o + outStride, lo, hi);
        store(a2, b2, out, o + 2 * outStride, lo, hi);
        store(a3, b3, out, o + 3 * outStride, lo, hi);
    }

    /** Two tokens: four accumulators. */
    private static void kernel2(
            float[] tileT,
            int n,
            float[] x,
            int xOff,
            int xStride,
            float[] out,
            int o,
            int outStride,
            VectorMask<Float> lo,
            VectorMask<Float> hi) {
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
        store(a0, b0, out, o, lo, hi);
        store(a1, b1, out, o + outStride, lo, hi);
    }

    /** One token: the tile's two vectors of outputs. */
    private static void kernel1(
            float[] tileT, int n, float[] x, int xOff, float[] out, int o, VectorMask<Float> lo, VectorMask<Float> hi) {
        FloatVector a = FloatVector.zero(F);
        FloatVector b = FloatVector.zero(F);
        for (int c = 0; c < n; c++) {
            FloatVector v = FloatVector.broadcast(F, x[xOff + c]);
            a = FloatVector.fromArray(F, tileT, c * ROW_TILE).fma(v, a);
            b = FloatVector.fromArray(F, tileT, c * ROW_TILE + L).fma(v, b);
        }
        store(a, b, out, o, lo, hi);
    }

    private static void store(
            FloatVector a, FloatVector b, float[] out, int o, VectorMask<Float> lo, VectorMask<Float> hi) {
        a.intoArray(out, o, lo);
        b.intoArray(out, o + L, hi);
    }
}
