package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;
import static io.falconmamba.core.kernels.Q4KMatrix.DMIN;
import static io.falconmamba.core.kernels.Q4KMatrix.MINS;
import static io.falconmamba.core.kernels.Q4KMatrix.QUANTS;
import static io.falconmamba.core.kernels.Q4KMatrix.SCALES;
import static io.falconmamba.core.kernels.Q4KMatrix.SUPER_BLOCK_BYTES;
import static io.falconmamba.core.kernels.QMatVec.B;
import static io.falconmamba.core.kernels.QMatVec.B2;
import static io.falconmamba.core.kernels.QMatVec.I;
import static io.falconmamba.core.kernels.QMatVec.L;
import static io.falconmamba.core.kernels.QMatVec.S2;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_K matrix × vector over {@link Q4KMatrix} tiles, the decode path: {@code out[r] = Σ_c W[r, c] · x[c]}.
 *
 * <p>x is quantized to Q8_0 blocks ({@link BlockMatVec#quantize}) and laid out as the Q4_0 kernel reads it
 * ({@link QMatVec#pairs}); each group's quant sums run exactly in 16-bit lanes as {@link QMatVec#q4Tiles4}'s do (the
 * stored nibbles are arranged alike). Group {@code g} of a row then adds
 * {@code d·sc_g·dx_g·Σ q·xq - dmin·m_g·Σ x}: its scale part from the integer sum, its minimum part from the float
 * sum of x over the group (not x's quantization of it). Per super-block the eight groups' terms are summed before
 * {@code d} and {@code dmin} multiply them. Four tiles per pass share every load of x; tiles are split across
 * the pool in groups of four.
 */
final class Q4KMatVec {

    private Q4KMatVec() {}

    private static final class Job extends ProductJob<Q4KMatrix> {
        int unit;
        short[] xq = new short[0];
        short[] xp = new short[0];
        float[] xd = new float[0];
        int[] lo8 = new int[0];
        /** Per group: 8·Σ xq over its high 16 columns, which the stored high nibbles (q - 8) leave out. */
        int[] hi8 = new int[0];
        /** Per group: Σ x, what its minimum multiplies. */
        float[] xsum = new float[0];

        @Override
        int prepare() {
            unit = w.tiles() >= 8 * QMatVec.TILES_PER_PASS ? QMatVec.TILES_PER_PASS : 1;
            int blocks = w.cols() / Q4KMatrix.GROUP;
            if (xd.length < blocks) {
                xq = new short[32 * blocks];
                xp = new short[32 * L * blocks];
                xd = new float[blocks];
                lo8 = new int[blocks];
                hi8 = new int[blocks];
                xsum = new float[blocks];
            }
            BlockMatVec.quantize(x, xOff, blocks, xq, xd);
            QMatVec.pairs(xq, blocks, xp, lo8);
            for (int b = 0; b < blocks; b++) {
                int high = 0;
                float sum = 0f;
                for (int j = 0; j < 16; j++) {
                    high += xq[32 * b + 16 + j];
                    sum += x[xOff + 32 * b + j] + x[xOff + 32 * b + 16 + j];
                }
                hi8[b] = 8 * high;
                xsum[b] = sum;
            }
            return (w.tiles() + unit - 1) / unit;
        }

        @Override
        ThreadPool pool(ThreadPool pool) {
            return w.byteSize() < MatVec.INLINE_BYTES ? ThreadPool.INLINE : pool;
        }

        @Override
        public void run(int from, int to) {
            tiles(this, from * unit, Math.min(w.tiles(), to * unit));
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: four vectors of outputs. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[4 * L]);

    /** {@code out[outOff + r] = W[r] · x[xOff ..]} for every row, split by tiles across the pool's threads. */
    static void multiply(Q4KMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /** Single-threaded over tiles {@code [from, to)}: four adjacent tiles per pass, then single tiles. */
    private static void tiles(Job j, int from, int to) {
        Q4KMatrix w = j.w;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int supers = w.superBlocks();
        float[] acc = ACC.get();
        int groups = (to - from) / 4;
        for (int g = 0; g < groups; g++) {
            int first = from + 4 * g;
            tiles4(data, first * tb, tb, supers, j.xp, j.hi8, j.xd, j.xsum, acc);
            for (int k = 0; k < 4; k++) {
                QMatVec.store(FloatVector.fromArray(F, acc, k * L), w.rows(), first + k, j.out, j.outOff);
            }
        }
        for (int tile = from + 4 * groups; tile < to; tile++) {
            QMatVec.store(tile(data, tile * tb, supers, j.xp, j.hi8, j.xd, j.xsum), w.rows(), tile, j.out, j.outOff);
        }
    }

    /** Four tiles {@code gap} bytes apart from {@code base}; written out, as helpers here would not be inlined. */
    static void tiles4(
            MemorySegment w,
            long base,
            long gap,
            int supers,
            short[] xp,
            int[] hi8,
            float[] xd,
            float[] xsum,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long t1 = base + gap, t2 = t1 + gap, t3 = t2 + gap;
        int b = 0;
        int xi = 0;
        long off = 0;
        long end = supers * (long) SUPER_BLOCK_BYTES;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            // The super-block's group terms: scale parts (before d) and minimum parts (before dmin).
            FloatVector s0 = FloatVector.zero(F),
                    s1 = FloatVector.zero(F),
                    s2 = FloatVector.zero(F),
                    s3 = FloatVector.zero(F);
            FloatVector m0 = FloatVector.zero(F),
                    m1 = FloatVector.zero(F),
                    m2 = FloatVector.zero(F),
                    m3 = FloatVector.zero(F);
            for (int g = 0; g < 8; g++, b++) {
                ShortVector q0s = ShortVector.zero(S2),
                        q1s = ShortVector.zero(S2),
                        q2s = ShortVector.zero(S2),
                        q3s = ShortVector.zero(S2);
                long qa = off + QUANTS + 16L * L * g;
                for (int k = 0; k < 8; k++, xi += 4 * L) {
                    ShortVector xl = ShortVector.fromArray(S2, xp, xi);
                    ShortVector xh = ShortVector.fromArray(S2, xp, xi + 2 * L);
                    long q = qa + 2L * L * k;
                    ShortVector q0 = (ShortVector)
                            ByteVector.fromMemorySegment(B2, w, base + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                    ShortVector q1 = (ShortVector)
                            ByteVector.fromMemorySegment(B2, w, t1 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                    ShortVector q2 = (ShortVector)
                            ByteVector.fromMemorySegment(B2, w, t2 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                    ShortVector q3 = (ShortVector)
                            ByteVector.fromMemorySegment(B2, w, t3 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                    q0s = q0s.add(q0.and((short) 0xF).mul(xl))
                            .add(q0.lanewise(VectorOperators.ASHR, 4).mul(xh));
                    q1s = q1s.add(q1.and((short) 0xF).mul(xl))
                            .add(q1.lanewise(VectorOperators.ASHR, 4).mul(xh));
                    q2s = q2s.add(q2.and((short) 0xF).mul(xl))
                            .add(q2.lanewise(VectorOperators.ASHR, 4).mul(xh));
                    q3s = q3s.add(q3.and((short) 0xF).mul(xl))
                            .add(q3.lanewise(VectorOperators.ASHR, 4).mul(xh));
                }
                int h8 = hi8[b];
                float dx = xd[b];
                FloatVector xs = FloatVector.broadcast(F, xsum[b]);
                long sa = off + SCALES + (long) L * g;
                long ma = off + MINS + (long) L * g;
                IntVector i0 = ((IntVector) q0s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q0s.convertShape(VectorOperators.S2I, I, 1))
                        .add(h8);
                IntVector i1 = ((IntVector) q1s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q1s.convertShape(VectorOperators.S2I, I, 1))
                        .add(h8);
                IntVector i2 = ((IntVector) q2s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q2s.convertShape(VectorOperators.S2I, I, 1))
                        .add(h8);
                IntVector i3 = ((IntVector) q3s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q3s.convertShape(VectorOperators.S2I, I, 1))
                        .add(h8);
                s0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, F, 0))
                        .fma(
                                ((FloatVector) ByteVector.fromMemorySegment(B, w, base + sa, LE)
                                                .convertShape(VectorOperators.B2F, F, 0))
                                        .mul(dx),
                                s0);
                s1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, F, 0))
                        .fma(
                                ((FloatVector) ByteVector.fromMemorySegment(B, w, t1 + sa, LE)
                                                .convertShape(VectorOperators.B2F, F, 0))
                                        .mul(dx),
                                s1);
                s2 = ((FloatVector) i2.convertShape(VectorOperators.I2F, F, 0))
                        .fma(
                                ((FloatVector) ByteVector.fromMemorySegment(B, w, t2 + sa, LE)
                                                .convertShape(VectorOperators.B2F, F, 0))
                                        .mul(dx),
                                s2);
                s3 = ((FloatVector) i3.convertShape(VectorOperators.I2F, F, 0))
                        .fma(
                                ((FloatVector) ByteVector.fromMemorySegment(B, w, t3 + sa, LE)
                                                .convertShape(VectorOperators.B2F, F, 0))
                                        .mul(dx),
                                s3);
                m0 = ((FloatVector) ByteVector.fromMemorySegment(B, w, base + ma, LE)
                                .convertShape(VectorOperators.B2F, F, 0))
                        .fma(xs, m0);
                m1 = ((FloatVector)
                                ByteVector.fromMemorySegment(B, w, t1 + ma, LE).convertShape(VectorOperators.B2F, F, 0))
                        .fma(xs, m1);
                m2 = ((FloatVector)
                                ByteVector.fromMemorySegment(B, w, t2 + ma, LE).convertShape(VectorOperators.B2F, F, 0))
                        .fma(xs, m2);
                m3 = ((FloatVector)
                                ByteVector.fromMemorySegment(B, w, t3 + ma, LE).convertShape(VectorOperators.B2F, F, 0))
                        .fma(xs, m3);
            }
            a0 = s0.fma(FloatVector.fromMemorySegment(F, w, base + off, LE), a0)
                    .sub(m0.mul(FloatVector.fromMemorySegment(F, w, base + off + DMIN, LE)));
            a1 = s1.fma(FloatVector.fromMemorySegment(F, w, t1 + off, LE), a1)
                    .sub(m1.mul(FloatVector.fromMemorySegment(F, w, t1 + off + DMIN, LE)));
            a2 = s2.fma(FloatVector.fromMemorySegment(F, w, t2 + off, LE), a2)
                    .sub(m2.mul(FloatVector.fromMemorySegment(F, w, t2 + off + DMIN, LE)));
            a3 = s3.fma(FloatVector.fromMemorySegment(F, w, t3 + off, LE), a3)
                    .sub(m3.mul(FloatVector.fromMemorySegment(F, w, t3 + off + DMIN, LE)));
            off += SUPER_BLOCK_BYTES;
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One tile: each lane's sums and float steps as in {@link #tiles4}. */
    static FloatVector tile(MemorySegment w, long base, int supers, short[] xp, int[] hi8, float[] xd, float[] xsum) {
        FloatVector a = FloatVector.zero(F);
        int b = 0;
        int xi = 0;
        for (int k = 0; k < supers; k++) {
            long at = base + (long) k * SUPER_BLOCK_BYTES;
            FloatVector s = FloatVector.zero(F), m = FloatVector.zero(F);
            for (int g = 0; g < 8; g++, b++) {
                ShortVector qs = ShortVector.zero(S2);
                long qa = at + QUANTS + 16L * L * g;
                for (int p = 0; p < 8; p++, xi += 4 * L) {
                    ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B2, w, qa + 2L * L * p, LE)
                            .convertShape(VectorOperators.B2S, S2, 0);
                    qs = qs.add(q.and((short) 0xF).mul(ShortVector.fromArray(S2, xp, xi)))
                            .add(q.lanewise(VectorOperators.ASHR, 4).mul(ShortVector.fromArray(S2, xp, xi + 2 * L)));
                }
                IntVector i = ((IntVector) qs.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) qs.convertShape(VectorOperators.S2I, I, 1))
                        .add(hi8[b]);
                FloatVector scale = (FloatVector) ByteVector.fromMemorySegment(B, w, at + SCALES + (long) L * g, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                FloatVector min = (FloatVector) ByteVector.fromMemorySegment(B, w, at + MINS + (long) L * g, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                s = ((FloatVector) i.convertShape(VectorOperators.I2F, F, 0)).fma(scale.mul(xd[b]), s);
                m = min.fma(FloatVector.broadcast(F, xsum[b]), m);
            }
            a = s.fma(FloatVector.fromMemorySegment(F, w, at, LE), a)
                    .sub(m.mul(FloatVector.fromMemorySegment(F, w, at + DMIN, LE)));
        }
        return a;
    }
}
