package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.QMatVec.L;
import static io.falconmamba.core.kernels.QMatVec.lo;
import static io.falconmamba.core.kernels.QMatVec.nibbles;
import static io.falconmamba.core.kernels.QMatVec.q8;
import static io.falconmamba.core.kernels.QMatVec.scales;
import static io.falconmamba.core.kernels.QMatVec.signed;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

/**
 * Quantized matrix × matrix, the prefill and batch path over {@link QuantizedMatrix}:
 * {@code out[t, r] = Σ_c Ŵ[r, c] · X[t, c]}.
 *
 * <p>Few tokens (batch decode, small chunks): each column of a tile is widened and scaled once and multiplied by
 * broadcasts of four tokens' x, as {@link QMatVec} does for one. From {@link #MAX_TOKENS} on, {@link MatMul}'s
 * transposed float tiles (each tile dequantized once per call, by the same widening) reuse every weight across
 * all tokens.
 */
final class QMatMul {

    /**
     * Fewer tokens than this go through the few-token kernels; from it on {@link MatMul}'s tiles are as fast or
     * faster (benchmarks/README.md has the measurements).
     */
    static final int MAX_TOKENS = 32;

    private QMatMul() {}

    private static final class Job extends ProductJob<QuantizedMatrix> {
        /** Tiles per unit the pool hands out: pairs when the two-tile pass applies. */
        int unit;
        /** Whole groups of eight tokens, x interleaved by column (see {@link #prepare}). */
        float[] xs = new float[0];

        @Override
        public void run(int from, int to) {
            tiles(this, from * unit, Math.min(w.tiles(), to * unit));
        }

        /**
         * With eight tokens or more, tokens {@code 0 .. 8·(tokens/8)} copied into the {@link TokenGroups} layout
         * and tiles in pairs against groups of eight tokens, sharing every broadcast.
         */
        @Override
        int prepare() {
            unit = tokens >= 8 ? 2 : 1;
            int cols = w.cols();
            int grouped = tokens / 8 * 8;
            if (xs.length < grouped * cols) {
                xs = new float[grouped * cols];
            }
            for (int t = 0; t < grouped; t++) {
                TokenGroups.put(x, xOff + t * xStride, cols, xs, t);
            }
            return (w.tiles() + unit - 1) / unit;
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: sixteen vectors of outputs. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[16 * L]);

    /**
     * {@code out[outOff + t*outStride + r] = Ŵ[r] · x[xOff + t*xStride ..]} for {@code t < tokens}, every row
     * (the vector kernels only: {@link QMatVec#VECTOR}).
     */
    static void multiply(
            QuantizedMatrix w,
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

    /**
     * Single-threaded over tiles {@code [from, to)}: with eight tokens or more, pairs of tiles against groups of
     * eight; the rest four tokens per pass, then one at a time.
     */
    private static void tiles(Job j, int from, int to) {
        QuantizedMatrix w = j.w;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int blocks = w.blocks();
        boolean q8 = w.format() == Format.Q8_0;
        float[] acc = ACC.get();
        int grouped = j.tokens / 8 * 8;
        int tile = from;
        if (grouped > 0) {
            for (; tile + 2 <= to; tile += 2) {
                for (int t = 0; t < grouped; t += 8) {
                    if (q8) {
                        q8Tiles2x8(data, tile * tb, tb, blocks, j.xs, t * w.cols(), 8, acc);
                    } else {
                        q4Tiles2x8(data, tile * tb, tb, blocks, j.xs, t * w.cols(), 8, acc);
                    }
                    for (int k = 0; k < 8; k++) {
                        int o = j.outOff + (t + k) * j.outStride;
                        QMatVec.store(FloatVector.fromArray(F, acc, k * L), w.rows(), tile, j.out, o);
                        QMatVec.store(FloatVector.fromArray(F, acc, (8 + k) * L), w.rows(), tile + 1, j.out, o);
                    }
                }
                rest(j, tile, grouped, acc);
                rest(j, tile + 1, grouped, acc);
            }
        }
        for (; tile < to; tile++) {
            rest(j, tile, 0, acc);
        }
    }

    /** Tokens {@code from ..} of one tile: four per pass, then one at a time, x read in place. */
    private static void rest(Job j, int tile, int from, float[] acc) {
        QuantizedMatrix w = j.w;
        MemorySegment data = w.data();
        long base = tile * w.tileBytes();
        int blocks = w.blocks();
        boolean q8 = w.format() == Format.Q8_0;
        int t = from;
        for (; t + 4 <= j.tokens; t += 4) {
            int x0 = j.xOff + t * j.xStride;
            if (q8) {
                q8Tokens4(data, base, blocks, j.x, x0, j.xStride, acc);
            } else {
                q4Tokens4(data, base, blocks, j.x, x0, j.xStride, acc);
            }
            for (int k = 0; k < 4; k++) {
                QMatVec.store(
                        FloatVector.fromArray(F, acc, k * L), w.rows(), tile, j.out, j.outOff + (t + k) * j.outStride);
            }
        }
        for (; t < j.tokens; t++) {
            int x0 = j.xOff + t * j.xStride;
            FloatVector v =
                    q8 ? QMatVec.q8Tile(data, base, blocks, j.x, x0) : QMatVec.q4Tile(data, base, blocks, j.x, x0);
            QMatVec.store(v, w.rows(), tile, j.out, j.outOff + t * j.outStride);
        }
    }

    /**
     * Two Q8_0 tiles against eight tokens (x interleaved from {@code x0}: column {@code c} of token {@code k} at
     * {@code x0 + 8c + k}): each column of both tiles widened and scaled once, sixteen accumulators, each
     * broadcast shared by the two tiles. {@code step} is x's stride per column, 8: passed in, as
     * {@code BatchMatVec.dot2x8} passes its stride, because with the constant C2 spills about twice as much
     * in the column loop on AVX2 and the kernel runs slower ({@link #q4Tiles2x8} likewise).
     */
    private static void q8Tiles2x8(
            MemorySegment w, long base, long tileBytes, int blocks, float[] xs, int x0, int step, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F),
                a4 = FloatVector.zero(F),
                a5 = FloatVector.zero(F),
                a6 = FloatVector.zero(F),
                a7 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F),
                b4 = FloatVector.zero(F),
                b5 = FloatVector.zero(F),
                b6 = FloatVector.zero(F),
                b7 = FloatVector.zero(F);
        long second = base + tileBytes;
        long blockBytes = 34L * L;
        int c = x0;
        for (int b = 0; b < blocks; b++) {
            long at = b * blockBytes;
            FloatVector da = scales(w, base + at);
            FloatVector db = scales(w, second + at);
            for (int j = 0; j < 32; j++, c += step) {
                FloatVector wa = q8(w, base + at, j).mul(da);
                FloatVector wb = q8(w, second + at, j).mul(db);
                FloatVector v = FloatVector.broadcast(F, xs[c]);
                a0 = wa.fma(v, a0);
                b0 = wb.fma(v, b0);
                v = FloatVector.broadcast(F, xs[c + 1]);
                a1 = wa.fma(v, a1);
                b1 = wb.fma(v, b1);
                v = FloatVector.broadcast(F, xs[c + 2]);
                a2 = wa.fma(v, a2);
                b2 = wb.fma(v, b2);
                v = FloatVector.broadcast(F, xs[c + 3]);
                a3 = wa.fma(v, a3);
                b3 = wb.fma(v, b3);
                v = FloatVector.broadcast(F, xs[c + 4]);
                a4 = wa.fma(v, a4);
                b4 = wb.fma(v, b4);
                v = FloatVector.broadcast(F, xs[c + 5]);
                a5 = wa.fma(v, a5);
                b5 = wb.fma(v, b5);
                v = FloatVector.broadcast(F, xs[c + 6]);
                a6 = wa.fma(v, a6);
                b6 = wb.fma(v, b6);
                v = FloatVector.broadcast(F, xs[c + 7]);
                a7 = wa.fma(v, a7);
                b7 = wb.fma(v, b7);
            }
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
        a4.intoArray(acc, 4 * L);
        a5.intoArray(acc, 5 * L);
        a6.intoArray(acc, 6 * L);
        a7.intoArray(acc, 7 * L);
        b0.intoArray(acc, 8 * L);
        b1.intoArray(acc, 9 * L);
        b2.intoArray(acc, 10 * L);
        b3.intoArray(acc, 11 * L);
        b4.intoArray(acc, 12 * L);
        b5.intoArray(acc, 13 * L);
        b6.intoArray(acc, 14 * L);
        b7.intoArray(acc, 15 * L);
    }

    /** Two Q4_0 tiles against eight tokens, as {@link #q8Tiles2x8}: per byte group, columns p and p + 16. */
    private static void q4Tiles2x8(
            MemorySegment w, long base, long tileBytes, int blocks, float[] xs, int x0, int step, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F),
                a4 = FloatVector.zero(F),
                a5 = FloatVector.zero(F),
                a6 = FloatVector.zero(F),
                a7 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F),
                b4 = FloatVector.zero(F),
                b5 = FloatVector.zero(F),
                b6 = FloatVector.zero(F),
                b7 = FloatVector.zero(F);
        long second = base + tileBytes;
        long blockBytes = 18L * L;
        for (int b = 0; b < blocks; b++) {
            long at = b * blockBytes;
            FloatVector da = scales(w, base + at);
            FloatVector db = scales(w, second + at);
            FloatVector da16 = da.mul(1f / 16);
            FloatVector db16 = db.mul(1f / 16);
            int c = x0 + b * 32 * 8;
            for (int p = 0; p < 16; p++, c += step) {
                ByteVector qa = nibbles(w, base + at, p);
                ByteVector qb = nibbles(w, second + at, p);
                // Low nibbles are column p, high nibbles column p + 16 (sixteen columns, 128 floats, further on);
                // the high column's centred quant is (signed byte - low nibble) / 16, see QMatVec.signed.
                FloatVector qla = lo(qa);
                FloatVector qlb = lo(qb);
                FloatVector la = qla.sub(8f).mul(da);
                FloatVector ha = signed(qa).sub(qla).mul(da16);
                FloatVector lb = qlb.sub(8f).mul(db);
                FloatVector hb = signed(qb).sub(qlb).mul(db16);
                FloatVector v0 = FloatVector.broadcast(F, xs[c]);
                FloatVector u0 = FloatVector.broadcast(F, xs[c + 128]);
                a0 = ha.fma(u0, la.fma(v0, a0));
                b0 = hb.fma(u0, lb.fma(v0, b0));
                FloatVector v1 = FloatVector.broadcast(F, xs[c + 1]);
                FloatVector u1 = FloatVector.broadcast(F, xs[c + 129]);
                a1 = ha.fma(u1, la.fma(v1, a1));
                b1 = hb.fma(u1, lb.fma(v1, b1));
                FloatVector v2 = FloatVector.broadcast(F, xs[c + 2]);
                FloatVector u2 = FloatVector.broadcast(F, xs[c + 130]);
                a2 = ha.fma(u2, la.fma(v2, a2));
                b2 = hb.fma(u2, lb.fma(v2, b2));
                FloatVector v3 = FloatVector.broadcast(F, xs[c + 3]);
                FloatVector u3 = FloatVector.broadcast(F, xs[c + 131]);
                a3 = ha.fma(u3, la.fma(v3, a3));
                b3 = hb.fma(u3, lb.fma(v3, b3));
                FloatVector v4 = FloatVector.broadcast(F, xs[c + 4]);
                FloatVector u4 = FloatVector.broadcast(F, xs[c + 132]);
                a4 = ha.fma(u4, la.fma(v4, a4));
                b4 = hb.fma(u4, lb.fma(v4, b4));
                FloatVector v5 = FloatVector.broadcast(F, xs[c + 5]);
                FloatVector u5 = FloatVector.broadcast(F, xs[c + 133]);
                a5 = ha.fma(u5, la.fma(v5, a5));
                b5 = hb.fma(u5, lb.fma(v5, b5));
                FloatVector v6 = FloatVector.broadcast(F, xs[c + 6]);
                FloatVector u6 = FloatVector.broadcast(F, xs[c + 134]);
                a6 = ha.fma(u6, la.fma(v6, a6));
                b6 = hb.fma(u6, lb.fma(v6, b6));
                FloatVector v7 = FloatVector.broadcast(F, xs[c + 7]);
                FloatVector u7 = FloatVector.broadcast(F, xs[c + 135]);
                a7 = ha.fma(u7, la.fma(v7, a7));
                b7 = hb.fma(u7, lb.fma(v7, b7));
            }
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
        a4.intoArray(acc, 4 * L);
        a5.intoArray(acc, 5 * L);
        a6.intoArray(acc, 6 * L);
        a7.intoArray(acc, 7 * L);
        b0.intoArray(acc, 8 * L);
        b1.intoArray(acc, 9 * L);
        b2.intoArray(acc, 10 * L);
        b3.intoArray(acc, 11 * L);
        b4.intoArray(acc, 12 * L);
        b5.intoArray(acc, 13 * L);
        b6.intoArray(acc, 14 * L);
        b7.intoArray(acc, 15 * L);
    }

    /** One Q8_0 tile against four tokens: each column widened and scaled once, four accumulators. */
    private static void q8Tokens4(MemorySegment w, long base, int blocks, float[] x, int x0, int xStride, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long blockBytes = 34L * L;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            FloatVector d = scales(w, at);
            int c = b * 32;
            for (int j = 0; j < 32; j++, c++) {
                FloatVector wv = q8(w, at, j).mul(d);
                a0 = wv.fma(FloatVector.broadcast(F, x[x0 + c]), a0);
                a1 = wv.fma(FloatVector.broadcast(F, x[x1 + c]), a1);
                a2 = wv.fma(FloatVector.broadcast(F, x[x2 + c]), a2);
                a3 = wv.fma(FloatVector.broadcast(F, x[x3 + c]), a3);
            }
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One Q4_0 tile against four tokens. */
    private static void q4Tokens4(MemorySegment w, long base, int blocks, float[] x, int x0, int xStride, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long blockBytes = 18L * L;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            FloatVector d = scales(w, at);
            FloatVector d16 = d.mul(1f / 16);
            int c = b * 32;
            for (int p = 0; p < 16; p++, c++) {
                ByteVector q = nibbles(w, at, p);
                FloatVector ql = lo(q);
                FloatVector wl = ql.sub(8f).mul(d);
                FloatVector wh = signed(q).sub(ql).mul(d16);
                a0 = wh.fma(FloatVector.broadcast(F, x[x0 + c + 16]), wl.fma(FloatVector.broadcast(F, x[x0 + c]), a0));
                a1 = wh.fma(FloatVector.broadcast(F, x[x1 + c + 16]), wl.fma(FloatVector.broadcast(F, x[x1 + c]), a1));
                a2 = wh.fma(FloatVector.broadcast(F, x[x2 + c + 16]), wl.fma(FloatVector.broadcast(F, x[x2 + c]), a2));
                a3 = wh.fma(FloatVector.broadcast(F, x[x3 + c + 16]), wl.fma(FloatVector.broadcast(F, x[x3 + c]), a3));
            }
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }
}
