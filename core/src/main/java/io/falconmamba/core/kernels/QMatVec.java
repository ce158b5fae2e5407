package io.falconmamba.core.kernels;

import io.falconmamba.core.Quantization;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.I16;
import static io.falconmamba.core.kernels.Convert.LE;

/**
 * Quantized matrix × vector, the decode path over {@link QuantizedMatrix}: {@code out[r] = Σ_c Ŵ[r, c] · x[c]}.
 *
 * <p>Per block the quants are widened straight to float lanes (bytes → float for Q8_0; a nibble mask, a shift
 * and {@code - 8} for Q4_0), multiplied into a per-block accumulator against x, and that accumulator is scaled
 * by the block's half scale into the row's running sum: one scale FMA per 32 weights. Several rows per pass
 * share each x load. Rows are split across the pool like {@link MatVec}.
 */
public final class QMatVec {

    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Bytes at a quarter of the float vector's size: one load widens to one float vector. */
    static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    /** The vector kernels need 8 or 16 float lanes (a block is 32 weights, half a Q4_0 block 16). */
    static final boolean VECTOR = F.length() == 8 || F.length() == 16;
    static final int L = F.length();
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    private QMatVec() {
    }

    private static final class Job implements ThreadPool.RangeTask {
        QuantizedMatrix w;
        float[] x;
        int xOff;
        float[] out;
        int outOff;

        @Override
        public void run(int from, int to) {
            rows(w, x, xOff, out, outOff, from, to);
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** {@code out[outOff + r] = Ŵ[r] · x[xOff ..]} for every row, split across the pool's threads. */
    public static void multiply(QuantizedMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        Job job = JOBS.get();
        job.w = w;
        job.x = x;
        job.xOff = xOff;
        job.out = out;
        job.outOff = outOff;
        try {
            if (w.byteSize() < MatVec.INLINE_BYTES) {
                job.run(0, w.rows());
            } else {
                pool.parallelFor(w.rows(), job);
            }
        } finally {
            job.w = null;
            job.x = null;
            job.out = null;
        }
    }

    static final int ROWS_PER_PASS = 4;

    /** Single-threaded over rows {@code [from, to)}. */
    static void rows(QuantizedMatrix w, float[] x, int xOff, float[] out, int outOff, int from, int to) {
        MemorySegment data = w.data();
        long rb = w.rowBytes();
        int blocks = w.cols() / Quantization.BLOCK;
        int r = from;
        if (!VECTOR) {
            for (; r < to; r++) {
                out[outOff + r] = dotScalar(w, r, x, xOff);
            }
            return;
        }
        switch (w.type()) {
            case Q8_0 -> {
                for (; r + ROWS_PER_PASS <= to; r += ROWS_PER_PASS) {
                    dot4Q8(data, r * rb, rb, x, xOff, blocks, out, outOff + r);
                }
                for (; r < to; r++) {
                    out[outOff + r] = dotQ8(data, r * rb, x, xOff, blocks);
                }
            }
            case Q4_0 -> {
                // One row per pass: the four-row form (dot4Q4) is too large for C2 to keep in registers and runs
                // ~4x slower (boxed vectors), measured on 8192×2048.
                for (; r < to; r++) {
                    out[outOff + r] = dotQ4(data, r * rb, x, xOff, blocks);
                }
            }
            case NONE -> throw new IllegalStateException();
        }
    }

    private static FloatVector q8(MemorySegment w, long at) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, at, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    private static float scale(MemorySegment w, long at) {
        return Float.float16ToFloat(w.get(I16, at));
    }

    /** Four consecutive Q8_0 rows from {@code base} (row stride {@code rb}). */
    static void dot4Q8(MemorySegment w, long base, long rb, float[] x, int xOff, int blocks, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long b0 = base;
        long b1 = base + rb;
        long b2 = base + 2 * rb;
        long b3 = base + 3 * rb;
        long off = 0;
        long end = (long) blocks * 34;
        int xb = xOff;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            FloatVector xv = FloatVector.fromArray(F, x, xb);
            FloatVector s0 = q8(w, b0 + off + 2).mul(xv);
            FloatVector s1 = q8(w, b1 + off + 2).mul(xv);
            FloatVector s2 = q8(w, b2 + off + 2).mul(xv);
            FloatVector s3 = q8(w, b3 + off + 2).mul(xv);
            for (int j = L; j < 32; j += L) {
                xv = FloatVector.fromArray(F, x, xb + j);
                s0 = q8(w, b0 + off + 2 + j).fma(xv, s0);
                s1 = q8(w, b1 + off + 2 + j).fma(xv, s1);
                s2 = q8(w, b2 + off + 2 + j).fma(xv, s2);
                s3 = q8(w, b3 + off + 2 + j).fma(xv, s3);
            }
            a0 = s0.fma(FloatVector.broadcast(F, scale(w, b0 + off)), a0);
            a1 = s1.fma(FloatVector.broadcast(F, scale(w, b1 + off)), a1);
            a2 = s2.fma(FloatVector.broadcast(F, scale(w, b2 + off)), a2);
            a3 = s3.fma(FloatVector.broadcast(F, scale(w, b3 + off)), a3);
            off += 34;
            xb += 32;
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a3.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ8(MemorySegment w, long base, float[] x, int xOff, int blocks) {
        FloatVector a = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = base + (long) b * 34;
            int xb = xOff + b * 32;
            FloatVector s = q8(w, off + 2).mul(FloatVector.fromArray(F, x, xb));
            for (int j = L; j < 32; j += L) {
                s = q8(w, off + 2 + j).fma(FloatVector.fromArray(F, x, xb + j), s);
            }
            a = s.fma(FloatVector.broadcast(F, scale(w, off)), a);
        }
        return a.reduceLanes(VectorOperators.ADD);
    }

    private static ByteVector nibbles(MemorySegment w, long at) {
        return ByteVector.fromMemorySegment(B, w, at, LE);
    }

    /** Low nibbles minus 8, widened straight from bytes (byte-lane ops then one B2F: no int round trip). */
    static FloatVector lo(ByteVector q) {
        return (FloatVector) q.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }

    static FloatVector hi(ByteVector q) {
        return (FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }

    static float dotQ4(MemorySegment w, long base, float[] x, int xOff, int blocks) {
        FloatVector a = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = base + (long) b * 18;
            int xb = xOff + b * 32;
            FloatVector s = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = nibbles(w, off + 2 + j);
                s = hi(q).fma(FloatVector.fromArray(F, x, xb + 16 + j), lo(q).fma(FloatVector.fromArray(F, x, xb + j), s));
            }
            a = s.fma(FloatVector.broadcast(F, scale(w, off)), a);
        }
        return a.reduceLanes(VectorOperators.ADD);
    }

    /** Plain scalar row dot, for species the vector kernels do not cover. */
    static float dotScalar(QuantizedMatrix w, int r, float[] x, int xOff) {
        MemorySegment data = w.data();
        long base = r * w.rowBytes();
        int bb = w.type().blockBytes();
        float sum = 0f;
        for (int b = 0; b < w.cols() / 32; b++) {
            long at = base + (long) b * bb;
            float d = scale(data, at);
            float s = 0f;
            for (int j = 0; j < 32; j++) {
                int q = w.type() == Quantization.Q8_0 ? data.get(I8, at + 2 + j)
                        : (((data.get(I8, at + 2 + (j & 15)) & 0xFF) >>> (j < 16 ? 0 : 4)) & 0xF) - 8;
                s += q * x[xOff + b * 32 + j];
            }
            sum += s * d;
        }
        return sum;
    }
}
