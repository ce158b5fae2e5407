package io.falconmamba.core.kernels;

import io.falconmamba.core.Quantization;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.QMatVec.L;
import static io.falconmamba.core.kernels.QMatVec.VECTOR;
import static io.falconmamba.core.kernels.QMatVec.hi;
import static io.falconmamba.core.kernels.QMatVec.lo;
import static io.falconmamba.core.kernels.QMatVec.nibbles;
import static io.falconmamba.core.kernels.QMatVec.q8;
import static io.falconmamba.core.kernels.QMatVec.scales;

/**
 * Quantized matrix × matrix, the prefill and batch path over {@link QuantizedMatrix}:
 * {@code out[t, r] = Σ_c Ŵ[r, c] · X[t, c]}.
 *
 * <p>Few tokens (batch decode, small chunks): each column of a tile is widened and scaled once and multiplied by
 * broadcasts of four tokens' x, as {@link QMatVec} does for one. From {@link #MAX_TOKENS} on, {@link MatMul}'s
 * transposed float tiles (each tile dequantized once per call, by the same widening) reuse every weight across
 * all tokens.
 */
public final class QMatMul {

    /**
     * Fewer tokens than this go through the few-token kernels. Best of 40 calls, Q8_0 8192×2048, 2 threads,
     * GFLOP/s here against MatMul's tiles: see the figures in benchmarks/README.md (third session onward).
     */
    public static final int MAX_TOKENS = 32;

    private QMatMul() {
    }

    private static final class Job implements ThreadPool.RangeTask {
        QuantizedMatrix w;
        float[] x;
        int xOff;
        int xStride;
        int tokens;
        float[] out;
        int outOff;
        int outStride;

        @Override
        public void run(int from, int to) {
            tiles(this, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: four vectors of outputs. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[4 * L]);

    /** {@code out[outOff + t*outStride + r] = Ŵ[r] · x[xOff + t*xStride ..]} for {@code t < tokens}, every row. */
    public static void multiply(QuantizedMatrix w, float[] x, int xOff, int xStride, int tokens,
                                float[] out, int outOff, int outStride, ThreadPool pool) {
        if (tokens >= MAX_TOKENS || !VECTOR) {
            MatMul.multiply(w, x, xOff, xStride, tokens, out, outOff, outStride, pool);
            return;
        }
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
            pool.parallelFor(w.tiles(), job);
        } finally {
            job.w = null;
            job.x = null;
            job.out = null;
        }
    }

    /** Single-threaded over tiles {@code [from, to)}: four tokens per pass, then one at a time. */
    private static void tiles(Job j, int from, int to) {
        QuantizedMatrix w = j.w;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int blocks = w.blocks();
        boolean q8 = w.type() == Quantization.Q8_0;
        float[] acc = ACC.get();
        for (int tile = from; tile < to; tile++) {
            long base = tile * tb;
            int t = 0;
            for (; t + 4 <= j.tokens; t += 4) {
                int x0 = j.xOff + t * j.xStride;
                if (q8) {
                    q8Tokens4(data, base, blocks, j.x, x0, j.xStride, acc);
                } else {
                    q4Tokens4(data, base, blocks, j.x, x0, j.xStride, acc);
                }
                for (int k = 0; k < 4; k++) {
                    QMatVec.store(FloatVector.fromArray(F, acc, k * L), w.rows(), tile, j.out, j.outOff + (t + k) * j.outStride);
                }
            }
            for (; t < j.tokens; t++) {
                int x0 = j.xOff + t * j.xStride;
                FloatVector v = q8 ? QMatVec.q8Tile(data, base, blocks, j.x, x0) : QMatVec.q4Tile(data, base, blocks, j.x, x0);
                QMatVec.store(v, w.rows(), tile, j.out, j.outOff + t * j.outStride);
            }
        }
    }

    /** One Q8_0 tile against four tokens: each column widened and scaled once, four accumulators. */
    private static void q8Tokens4(MemorySegment w, long base, int blocks, float[] x, int x0, int xStride, float[] acc) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
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
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        long blockBytes = 18L * L;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            FloatVector d = scales(w, at);
            int c = b * 32;
            for (int p = 0; p < 16; p++, c++) {
                ByteVector q = nibbles(w, at, p);
                FloatVector wl = lo(q).sub(8f).mul(d);
                FloatVector wh = hi(q).sub(8f).mul(d);
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
