package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;
import static io.falconmamba.core.kernels.Q6KMatrix.GROUP;
import static io.falconmamba.core.kernels.Q6KMatrix.QUANTS;
import static io.falconmamba.core.kernels.Q6KMatrix.SCALES;
import static io.falconmamba.core.kernels.Q6KMatrix.SUPER_BLOCK_BYTES;
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
 * Q6_K matrix × vector over {@link Q6KMatrix} tiles, the decode path: {@code out[r] = Σ_c W[r, c] · x[c]}.
 *
 * <p>x is quantized to Q8_0 blocks ({@link BlockMatVec#quantize}) and laid out in pair vectors
 * ({@link QMatVec#pairs}: a block's low 16 columns in its low pairs, its high 16 in its high pairs, which are
 * exactly the block's two Q6_K groups). A group's sum {@code Σ (q-32)·xq} runs exactly in 16-bit lanes (eight
 * products of at most 32·127 per lane: 32512 < 2^15), is converted once and scaled by {@code sc_g·dx}; the sixteen
 * groups of a super-block are summed before {@code d} multiplies them. Four tiles per pass share every load of x.
 */
final class Q6KMatVec {

    private Q6KMatVec() {}

    private static final class Job extends ProductJob<Q6KMatrix> {
        int unit;
        short[] xq = new short[0];
        short[] xp = new short[0];
        float[] xd = new float[0];
        int[] unused = new int[0];

        @Override
        int prepare() {
            unit = w.tiles() >= 8 * QMatVec.TILES_PER_PASS ? QMatVec.TILES_PER_PASS : 1;
            int blocks = w.cols() / 32;
            if (xd.length < blocks) {
                xq = new short[32 * blocks];
                xp = new short[32 * L * blocks];
                xd = new float[blocks];
                unused = new int[blocks];
            }
            BlockMatVec.quantize(x, xOff, blocks, xq, xd);
            QMatVec.pairs(xq, blocks, xp, unused);
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
    static void multiply(Q6KMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /** Single-threaded over tiles {@code [from, to)}: four adjacent tiles per pass, then single tiles. */
    private static void tiles(Job j, int from, int to) {
        Q6KMatrix w = j.w;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int supers = w.superBlocks();
        float[] acc = ACC.get();
        int groups = (to - from) / 4;
        for (int g = 0; g < groups; g++) {
            int first = from + 4 * g;
            tiles4(data, first * tb, tb, supers, j.xp, j.xd, acc);
            for (int k = 0; k < 4; k++) {
                QMatVec.store(FloatVector.fromArray(F, acc, k * L), w.rows(), first + k, j.out, j.outOff);
            }
        }
        for (int tile = from + 4 * groups; tile < to; tile++) {
            QMatVec.store(tile(data, tile * tb, supers, j.xp, j.xd), w.rows(), tile, j.out, j.outOff);
        }
    }

    /**
     * Where group {@code g}'s pair vectors of x begin ({@link QMatVec#pairs}): block {@code g/2}'s low pairs for an
     * even group, its high pairs for an odd one; consecutive pairs are 4L shorts apart.
     */
    private static int pairsOf(int g) {
        return 32 * L * (g >> 1) + 2 * L * (g & 1);
    }

    /** Four tiles {@code gap} bytes apart from {@code base}; written out, as helpers here would not be inlined. */
    static void tiles4(MemorySegment w, long base, long gap, int supers, short[] xp, float[] xd, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long t1 = base + gap, t2 = t1 + gap, t3 = t2 + gap;
        int g = 0; // the group over the whole row
        long off = 0;
        long end = supers * (long) SUPER_BLOCK_BYTES;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            FloatVector s0 = FloatVector.zero(F),
                    s1 = FloatVector.zero(F),
                    s2 = FloatVector.zero(F),
                    s3 = FloatVector.zero(F);
            for (int sg = 0; sg < 16; sg++, g++) {
                ShortVector q0s = ShortVector.zero(S2),
                        q1s = ShortVector.zero(S2),
                        q2s = ShortVector.zero(S2),
                        q3s = ShortVector.zero(S2);
                long qa = off + QUANTS + (long) GROUP * L * sg;
                int xi = pairsOf(g);
                for (int k = 0; k < 8; k++, xi += 4 * L) {
                    ShortVector xv = ShortVector.fromArray(S2, xp, xi);
                    long q = qa + 2L * L * k;
                    q0s = q0s.add(((ShortVector) ByteVector.fromMemorySegment(B2, w, base + q, LE)
                                    .convertShape(VectorOperators.B2S, S2, 0))
                            .mul(xv));
                    q1s = q1s.add(((ShortVector) ByteVector.fromMemorySegment(B2, w, t1 + q, LE)
                                    .convertShape(VectorOperators.B2S, S2, 0))
                            .mul(xv));
                    q2s = q2s.add(((ShortVector) ByteVector.fromMemorySegment(B2, w, t2 + q, LE)
                                    .convertShape(VectorOperators.B2S, S2, 0))
                            .mul(xv));
                    q3s = q3s.add(((ShortVector) ByteVector.fromMemorySegment(B2, w, t3 + q, LE)
                                    .convertShape(VectorOperators.B2S, S2, 0))
                            .mul(xv));
                }
                float dx = xd[g >> 1];
                long sa = off + SCALES + (long) L * sg;
                IntVector i0 = ((IntVector) q0s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q0s.convertShape(VectorOperators.S2I, I, 1));
                IntVector i1 = ((IntVector) q1s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q1s.convertShape(VectorOperators.S2I, I, 1));
                IntVector i2 = ((IntVector) q2s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q2s.convertShape(VectorOperators.S2I, I, 1));
                IntVector i3 = ((IntVector) q3s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) q3s.convertShape(VectorOperators.S2I, I, 1));
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
            }
            a0 = s0.fma(FloatVector.fromMemorySegment(F, w, base + off, LE), a0);
            a1 = s1.fma(FloatVector.fromMemorySegment(F, w, t1 + off, LE), a1);
            a2 = s2.fma(FloatVector.fromMemorySegment(F, w, t2 + off, LE), a2);
            a3 = s3.fma(FloatVector.fromMemorySegment(F, w, t3 + off, LE), a3);
            off += SUPER_BLOCK_BYTES;
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One tile: each lane's sums and float steps as in {@link #tiles4}. */
    static FloatVector tile(MemorySegment w, long base, int supers, short[] xp, float[] xd) {
        FloatVector a = FloatVector.zero(F);
        int g = 0;
        for (int k = 0; k < supers; k++) {
            long at = base + (long) k * SUPER_BLOCK_BYTES;
            FloatVector s = FloatVector.zero(F);
            for (int sg = 0; sg < 16; sg++, g++) {
                ShortVector qs = ShortVector.zero(S2);
                long qa = at + QUANTS + (long) GROUP * L * sg;
                int xi = pairsOf(g);
                for (int p = 0; p < 8; p++, xi += 4 * L) {
                    qs = qs.add(((ShortVector) ByteVector.fromMemorySegment(B2, w, qa + 2L * L * p, LE)
                                    .convertShape(VectorOperators.B2S, S2, 0))
                            .mul(ShortVector.fromArray(S2, xp, xi)));
                }
                IntVector i = ((IntVector) qs.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) qs.convertShape(VectorOperators.S2I, I, 1));
                FloatVector scale = (FloatVector) ByteVector.fromMemorySegment(B, w, at + SCALES + (long) L * sg, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                s = ((FloatVector) i.convertShape(VectorOperators.I2F, F, 0)).fma(scale.mul(xd[g >> 1]), s);
            }
            a = s.fma(FloatVector.fromMemorySegment(F, w, at, LE), a);
        }
        return a;
    }
}
