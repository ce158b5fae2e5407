package io.falconmamba.core.kernels;

import io.falconmamba.core.Quantization;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.I16;
import static io.falconmamba.core.kernels.Convert.LE;
import static io.falconmamba.core.kernels.QMatVec.B;
import static io.falconmamba.core.kernels.QMatVec.L;
import static io.falconmamba.core.kernels.QMatVec.VECTOR;

/**
 * Quantized matrix × matrix, the prefill and batch path over {@link QuantizedMatrix}: a tile of rows is
 * dequantized to float once per block of tokens and reused across it, four rows against four tokens per pass
 * (sixteen accumulators), as {@link MatMul} does for stored types.
 */
public final class QMatMul {

    static final int ROW_TILE = 4;
    static final int TOKEN_BLOCK = 32;
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

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
        public void run(int fromTile, int toTile) {
            rows(w, x, xOff, xStride, tokens, out, outOff, outStride, fromTile * ROW_TILE, Math.min(w.rows(), toTile * ROW_TILE));
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    private static final ThreadLocal<float[]> TILES = ThreadLocal.withInitial(() -> new float[0]);

    /** {@code out[outOff + t*outStride + r] = Ŵ[r] · x[xOff + t*xStride ..]} for {@code t < tokens}, every row. */
    public static void multiply(QuantizedMatrix w, float[] x, int xOff, int xStride, int tokens,
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

    static void rows(QuantizedMatrix w, float[] x, int xOff, int xStride, int tokens,
                     float[] out, int outOff, int outStride, int from, int to) {
        int n = w.cols();
        float[] tile = TILES.get();
        if (tile.length < ROW_TILE * n) {
            tile = new float[ROW_TILE * n];
            TILES.set(tile);
        }
        // Token blocks outside, so a block of X stays in cache while the row tiles stream past it; each tile is
        // dequantized once per token block and reused for its (up to 32) tokens.
        for (int t0 = 0; t0 < tokens; t0 += TOKEN_BLOCK) {
            int t1 = Math.min(tokens, t0 + TOKEN_BLOCK);
            for (int r = from; r < to; r += ROW_TILE) {
                int count = Math.min(ROW_TILE, to - r);
                for (int k = 0; k < count; k++) {
                    dequantizeRow(w, r + k, tile, k * n);
                }
                if (count == ROW_TILE) {
                    int t = t0;
                    for (; t + 4 <= t1; t += 4) {
                        dot4x4(tile, n, x, xOff + t * xStride, xStride, out, outOff + t * outStride + r, outStride);
                    }
                    for (; t < t1; t++) {
                        for (int k = 0; k < ROW_TILE; k++) {
                            out[outOff + t * outStride + r + k] = dot(tile, k * n, x, xOff + t * xStride, n);
                        }
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

    /** Row {@code r} of {@code w} as floats into {@code out[off .. off+cols)}. */
    static void dequantizeRow(QuantizedMatrix w, int r, float[] out, int off) {
        MemorySegment data = w.data();
        long base = r * w.rowBytes();
        int blocks = w.cols() / Quantization.BLOCK;
        int bb = w.type().blockBytes();
        boolean q8 = w.type() == Quantization.Q8_0;
        for (int b = 0; b < blocks; b++) {
            long at = base + (long) b * bb;
            float d = Float.float16ToFloat(data.get(I16, at));
            int o = off + b * 32;
            if (VECTOR) {
                if (q8) {
                    for (int j = 0; j < 32; j += L) {
                        ((FloatVector) ByteVector.fromMemorySegment(B, data, at + 2 + j, LE).convertShape(VectorOperators.B2F, F, 0))
                                .mul(d).intoArray(out, o + j);
                    }
                } else {
                    for (int j = 0; j < 16; j += L) {
                        ByteVector q = ByteVector.fromMemorySegment(B, data, at + 2 + j, LE);
                        QMatVec.lo(q).mul(d).intoArray(out, o + j);
                        QMatVec.hi(q).mul(d).intoArray(out, o + 16 + j);
                    }
                }
            } else if (q8) {
                for (int j = 0; j < 32; j++) {
                    out[o + j] = data.get(I8, at + 2 + j) * d;
                }
            } else {
                for (int j = 0; j < 16; j++) {
                    int byt = data.get(I8, at + 2 + j) & 0xFF;
                    out[o + j] = ((byt & 0xF) - 8) * d;
                    out[o + 16 + j] = ((byt >>> 4) - 8) * d;
                }
            }
        }
    }

    /** Four tile rows against four activation rows ({@code n} is a multiple of 32, so no column tail). */
    private static void dot4x4(float[] tile, int n, float[] x, int xOff, int xStride, float[] out, int o, int outStride) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int x1 = xOff + xStride;
        int x2 = xOff + 2 * xStride;
        int x3 = xOff + 3 * xStride;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, tile, i);
            FloatVector w1 = FloatVector.fromArray(F, tile, n + i);
            FloatVector w2 = FloatVector.fromArray(F, tile, 2 * n + i);
            FloatVector w3 = FloatVector.fromArray(F, tile, 3 * n + i);
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
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
                for (int k = 0; k < 4; k++) {
                    out[o + t * outStride + k] += tile[k * n + i] * xi;
                }
            }
        }
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
