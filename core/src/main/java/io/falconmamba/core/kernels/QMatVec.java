package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantized matrix × vector, the decode path over {@link QuantizedMatrix}: {@code out[r] = Σ_c Ŵ[r, c] · x[c]}.
 *
 * <p>Works a tile (one float vector of rows) at a time, one contiguous stream per tile, four tiles per pass
 * sharing every load of x; no horizontal sums. Tiles are split across the pool. Q8_0: per block of 32 columns,
 * each column's quants for the tile's rows are one small load widened to a float vector and multiplied by a
 * broadcast of x; the block's sum is scaled by the vector of the tile's half scales. Q4_0 (fewer bytes per
 * weight, so more instructions per byte) runs against x quantized to Q8_0 blocks with the block's sums in
 * 16-bit integers, see {@link #q4Tiles4}. Only Q8_0 and Q4_0 matrices reach here (K-quant blocks run as
 * stored, see {@link KQuantMatrix}).
 */
final class QMatVec {

    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Bytes at a quarter of the float vector's size: one load widens to one float vector (a tile's column). */
    static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4))
            : null;
    /** The vector kernels need 8 or 16 float lanes (a tile's column of bytes is then a 64- or 128-bit load). */
    static final boolean VECTOR = F.length() == 8 || F.length() == 16;

    static final int L = F.length();
    static final int TILES_PER_PASS = 4;

    private QMatVec() {}

    private static final class Job extends ProductJob<QuantizedMatrix> {
        /** Tiles per unit the pool hands out. */
        int unit;

        /** Q4_0: x quantized to Q8_0 blocks ({@link BlockMatVec#quantize}), laid out by {@link #pairs}. */
        short[] xq = new short[0];

        short[] xp = new short[0];
        float[] xd = new float[0];
        int[] x8 = new int[0];

        /**
         * Groups of four tiles, so no thread's share ends in single-tile passes; single tiles for matrices of
         * few tiles (x_proj), where groups would split unevenly between the threads.
         */
        @Override
        int prepare() {
            unit = w.tiles() >= 8 * TILES_PER_PASS ? TILES_PER_PASS : 1;
            if (VECTOR && w.format() == Format.Q4_0) {
                int blocks = w.blocks();
                if (xd.length < blocks) {
                    xq = new short[32 * blocks];
                    xp = new short[32 * L * blocks];
                    xd = new float[blocks];
                    x8 = new int[blocks];
                }
                BlockMatVec.quantize(x, xOff, blocks, xq, xd);
                pairs(xq, blocks, xp, x8);
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
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[TILES_PER_PASS * L]);

    /** {@code out[outOff + r] = Ŵ[r] · x[xOff ..]} for every row, split by tiles across the pool's threads. */
    static void multiply(QuantizedMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /**
     * Single-threaded over tiles {@code [from, to)}: four tiles per pass, then single tiles. Q8_0 against float
     * x, Q4_0 against the job's quantized x; any format on the scalar path.
     */
    private static void tiles(Job j, int from, int to) {
        QuantizedMatrix w = j.w;
        if (!VECTOR) {
            for (int r = from * QuantizedMatrix.TILE; r < Math.min(w.rows(), to * QuantizedMatrix.TILE); r++) {
                j.out[j.outOff + r] = dotScalar(w, r, j.x, j.xOff);
            }
            return;
        }
        boolean q4 = w.format() == Format.Q4_0;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int blocks = w.blocks();
        float[] acc = ACC.get();
        // A pass's four tiles are adjacent, or on AVX2 a quarter of the range apart (see MatVec.STREAMS).
        int groups = (to - from) / TILES_PER_PASS;
        int gap = MatVec.STREAMS ? groups : 1;
        for (int g = 0; g < groups; g++) {
            int first = from + (MatVec.STREAMS ? g : TILES_PER_PASS * g);
            if (q4) {
                q4Tiles4(data, first * tb, gap * tb, blocks, j.xp, j.x8, j.xd, acc);
            } else {
                q8Tiles4(data, first * tb, gap * tb, blocks, j.x, j.xOff, acc);
            }
            for (int k = 0; k < TILES_PER_PASS; k++) {
                store(FloatVector.fromArray(F, acc, k * L), w.rows(), first + k * gap, j.out, j.outOff);
            }
        }
        for (int tile = from + TILES_PER_PASS * groups; tile < to; tile++) {
            FloatVector v = q4
                    ? q4Tile(data, tile * tb, blocks, j.xp, j.x8, j.xd)
                    : q8Tile(data, tile * tb, blocks, j.x, j.xOff);
            store(v, w.rows(), tile, j.out, j.outOff);
        }
    }

    /** A tile's outputs into {@code out[outOff + tile·L ..]}, masked at the last tile. */
    static void store(FloatVector v, int rows, int tile, float[] out, int outOff) {
        int r0 = tile * L;
        if (r0 + L <= rows) {
            v.intoArray(out, outOff + r0);
        } else {
            VectorMask<Float> m = F.indexInRange(r0, rows);
            v.intoArray(out, outOff + r0, m);
        }
    }

    /** Column {@code j}'s Q8_0 quants of a tile block starting at {@code at}, as floats. */
    static FloatVector q8(MemorySegment w, long at, int j) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, at + 2L * L + (long) j * L, LE)
                .convertShape(VectorOperators.B2F, F, 0);
    }

    /**
     * The tile's half scales of the block at {@code at}, widened: the half's sign, exponent and mantissa moved to
     * float position (the half as a float times 2^-112, exact for every finite half) and rebiased by 2^112.
     */
    static FloatVector scales(MemorySegment w, long at) {
        IntVector h =
                (IntVector) ShortVector.fromMemorySegment(Convert.S, w, at, LE).convertShape(VectorOperators.S2I, I, 0);
        return ((FloatVector)
                        h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretShape(F, 0))
                .mul(0x1p112f);
    }

    /**
     * Byte-pair group {@code p} of a Q4_0 tile block: columns {@code p} (low nibbles) and {@code p + 16} (high,
     * stored XOR 8, see {@link QuantizedMatrix}).
     */
    static ByteVector nibbles(MemorySegment w, long at, int p) {
        return ByteVector.fromMemorySegment(B, w, at + 2L * L + (long) p * L, LE);
    }

    /** The low nibbles, 0..15 (the quants before llama.cpp's {@code - 8}), widened straight from bytes. */
    static FloatVector lo(ByteVector q) {
        return (FloatVector) q.and((byte) 0xF).convertShape(VectorOperators.B2F, F, 0);
    }

    /**
     * The stored bytes as signed numbers, {@code 16·(hi - 8) + lo}: less {@link #lo} and over 16, the high column's
     * centred quant {@code hi - 8}.
     */
    static FloatVector signed(ByteVector q) {
        return (FloatVector) q.convertShape(VectorOperators.B2F, F, 0);
    }

    /** Four Q8_0 tiles {@code gap} bytes apart from {@code base}: four block sums and four outputs, each broadcast shared. */
    static void q8Tiles4(MemorySegment w, long base, long gap, int blocks, float[] x, int xOff, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long t1 = base + gap, t2 = t1 + gap, t3 = t2 + gap;
        long blockBytes = 34L * L;
        long off = 0;
        long end = blocks * blockBytes;
        int xb = xOff;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            FloatVector s0 = FloatVector.zero(F),
                    s1 = FloatVector.zero(F),
                    s2 = FloatVector.zero(F),
                    s3 = FloatVector.zero(F);
            for (int j = 0; j < 32; j++) {
                FloatVector xv = FloatVector.broadcast(F, x[xb + j]);
                s0 = q8(w, base + off, j).fma(xv, s0);
                s1 = q8(w, t1 + off, j).fma(xv, s1);
                s2 = q8(w, t2 + off, j).fma(xv, s2);
                s3 = q8(w, t3 + off, j).fma(xv, s3);
            }
            a0 = s0.fma(scales(w, base + off), a0);
            a1 = s1.fma(scales(w, t1 + off), a1);
            a2 = s2.fma(scales(w, t2 + off), a2);
            a3 = s3.fma(scales(w, t3 + off), a3);
            off += blockBytes;
            xb += 32;
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One Q8_0 tile: two block sums (even and odd columns) so two FMA chains run at once. */
    static FloatVector q8Tile(MemorySegment w, long base, int blocks, float[] x, int xOff) {
        FloatVector a = FloatVector.zero(F);
        long blockBytes = 34L * L;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            int xb = xOff + b * 32;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int j = 0; j < 32; j += 2) {
                s0 = q8(w, at, j).fma(FloatVector.broadcast(F, x[xb + j]), s0);
                s1 = q8(w, at, j + 1).fma(FloatVector.broadcast(F, x[xb + j + 1]), s1);
            }
            a = s0.add(s1).fma(scales(w, at), a);
        }
        return a;
    }

    /*
     * Q4_0 runs against x quantized to Q8_0 blocks, as llama.cpp's decode does: a block's product is summed
     * exactly in 16-bit lanes, then converted and scaled once, d_w·d_x. Two byte-pair groups (2L bytes: columns
     * p, p+1 in the low nibbles and p+16, p+17 in the high) widen to one vector of 2L shorts, lanes [0, L) the
     * tile's rows for group p, [L, 2L) for p+1; a matching "pair vector" of x holds xq[p] in the first half and
     * xq[p+1] in the second ({@link #pairs}). Low nibbles are 0..15 (the block's 8·Σ xq[0..16) is taken off once);
     * the stored byte shifted right arithmetically is the high column's centred quant, hi - 8 (see
     * QuantizedMatrix.Q4_FLIP). Per lane over a block: 8·(15·127 + 8·127) = 23368 < 2^15, so no 16-bit sum
     * overflows.
     */

    /** Shorts over the float vector's shape: two byte-pair groups of a tile, widened. */
    static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, F.vectorShape());
    /** Two byte-pair groups of a tile's block: 2L bytes, half the float vector's size. */
    static final VectorSpecies<Byte> B2 = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 2))
            : null;

    /**
     * x's quants as the Q4_0 kernels read them: per block and pair step k (groups 2k, 2k+1), a low pair vector
     * (xq[2k] ×L, xq[2k+1] ×L) then a high one (xq[16+2k] ×L, xq[17+2k] ×L); and per block 8·Σ xq[0..16).
     */
    static void pairs(short[] xq, int blocks, short[] xp, int[] x8) {
        VectorMask<Short> upper = S2.indexInRange(-L, L); // lanes i with 0 ≤ i - L < L
        int o = 0;
        for (int b = 0; b < blocks; b++) {
            int q = 32 * b;
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                sum += xq[q + j];
            }
            x8[b] = 8 * sum;
            for (int k = 0; k < 16; k += 2) {
                ShortVector.broadcast(S2, xq[q + k]).blend(xq[q + k + 1], upper).intoArray(xp, o);
                ShortVector.broadcast(S2, xq[q + 16 + k])
                        .blend(xq[q + 17 + k], upper)
                        .intoArray(xp, o + 2 * L);
                o += 4 * L;
            }
        }
    }

    /** Four Q4_0 tiles {@code gap} bytes apart from {@code base}, each pair vector of x shared by the four. */
    static void q4Tiles4(
            MemorySegment w, long base, long gap, int blocks, short[] xp, int[] x8, float[] xd, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long t1 = base + gap, t2 = t1 + gap, t3 = t2 + gap;
        long blockBytes = 18L * L;
        long off = 0;
        long end = blocks * blockBytes;
        int b = 0;
        int xi = 0;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            ShortVector s0 = ShortVector.zero(S2),
                    s1 = ShortVector.zero(S2),
                    s2 = ShortVector.zero(S2),
                    s3 = ShortVector.zero(S2);
            for (long q = off + 2L * L; q < off + blockBytes; q += 2L * L, xi += 4 * L) {
                ShortVector xl = ShortVector.fromArray(S2, xp, xi);
                ShortVector xh = ShortVector.fromArray(S2, xp, xi + 2 * L);
                ShortVector q0 = (ShortVector)
                        ByteVector.fromMemorySegment(B2, w, base + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                ShortVector q1 = (ShortVector)
                        ByteVector.fromMemorySegment(B2, w, t1 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                ShortVector q2 = (ShortVector)
                        ByteVector.fromMemorySegment(B2, w, t2 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                ShortVector q3 = (ShortVector)
                        ByteVector.fromMemorySegment(B2, w, t3 + q, LE).convertShape(VectorOperators.B2S, S2, 0);
                s0 = s0.add(q0.and((short) 0xF).mul(xl))
                        .add(q0.lanewise(VectorOperators.ASHR, 4).mul(xh));
                s1 = s1.add(q1.and((short) 0xF).mul(xl))
                        .add(q1.lanewise(VectorOperators.ASHR, 4).mul(xh));
                s2 = s2.add(q2.and((short) 0xF).mul(xl))
                        .add(q2.lanewise(VectorOperators.ASHR, 4).mul(xh));
                s3 = s3.add(q3.and((short) 0xF).mul(xl))
                        .add(q3.lanewise(VectorOperators.ASHR, 4).mul(xh));
            }
            int lo8 = x8[b];
            float dx = xd[b];
            // Written out, as in q8Tiles4: helpers here would not be inlined, and would box.
            IntVector i0 = ((IntVector) s0.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) s0.convertShape(VectorOperators.S2I, I, 1))
                    .sub(lo8);
            IntVector i1 = ((IntVector) s1.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) s1.convertShape(VectorOperators.S2I, I, 1))
                    .sub(lo8);
            IntVector i2 = ((IntVector) s2.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) s2.convertShape(VectorOperators.S2I, I, 1))
                    .sub(lo8);
            IntVector i3 = ((IntVector) s3.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) s3.convertShape(VectorOperators.S2I, I, 1))
                    .sub(lo8);
            IntVector h0 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, base + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h1 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t1 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h2 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t2 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h3 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t3 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            a0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, F, 0))
                    .mul(dx)
                    .fma(
                            ((FloatVector) h0.lanewise(VectorOperators.LSHL, 13)
                                            .and(0x8FFFE000)
                                            .reinterpretShape(F, 0))
                                    .mul(0x1p112f),
                            a0);
            a1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, F, 0))
                    .mul(dx)
                    .fma(
                            ((FloatVector) h1.lanewise(VectorOperators.LSHL, 13)
                                            .and(0x8FFFE000)
                                            .reinterpretShape(F, 0))
                                    .mul(0x1p112f),
                            a1);
            a2 = ((FloatVector) i2.convertShape(VectorOperators.I2F, F, 0))
                    .mul(dx)
                    .fma(
                            ((FloatVector) h2.lanewise(VectorOperators.LSHL, 13)
                                            .and(0x8FFFE000)
                                            .reinterpretShape(F, 0))
                                    .mul(0x1p112f),
                            a2);
            a3 = ((FloatVector) i3.convertShape(VectorOperators.I2F, F, 0))
                    .mul(dx)
                    .fma(
                            ((FloatVector) h3.lanewise(VectorOperators.LSHL, 13)
                                            .and(0x8FFFE000)
                                            .reinterpretShape(F, 0))
                                    .mul(0x1p112f),
                            a3);
            off += blockBytes;
            b++;
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One Q4_0 tile against x laid out by {@link #pairs}: each lane's sums and float steps as in {@link #q4Tiles4}. */
    static FloatVector q4Tile(MemorySegment w, long base, int blocks, short[] xp, int[] x8, float[] xd) {
        FloatVector a = FloatVector.zero(F);
        long blockBytes = 18L * L;
        int xi = 0;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            ShortVector s = ShortVector.zero(S2);
            for (int k = 0; k < 8; k++, xi += 4 * L) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B2, w, at + 2L * L * (k + 1), LE)
                        .convertShape(VectorOperators.B2S, S2, 0);
                s = s.add(q.and((short) 0xF).mul(ShortVector.fromArray(S2, xp, xi)))
                        .add(q.lanewise(VectorOperators.ASHR, 4).mul(ShortVector.fromArray(S2, xp, xi + 2 * L)));
            }
            IntVector i = ((IntVector) s.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) s.convertShape(VectorOperators.S2I, I, 1))
                    .sub(x8[b]);
            a = ((FloatVector) i.convertShape(VectorOperators.I2F, F, 0))
                    .mul(xd[b])
                    .fma(scales(w, at), a);
        }
        return a;
    }

    /**
     * One Q4_0 tile against float x, for {@link QMatMul}'s odd tokens. With {@code lo} and {@code sb} the low
     * nibble and the signed stored byte ({@link #signed}), a column pair's share of the block's sum is
     * {@code (lo-8)·x[p] + (sb-lo)/16·x[p+16] = lo·(x[p] - x[p+16]/16) + sb·x[p+16]/16 - 8·x[p]}.
     */
    static FloatVector q4Tile(MemorySegment w, long base, int blocks, float[] x, int xOff) {
        FloatVector a = FloatVector.zero(F);
        long blockBytes = 18L * L;
        for (int b = 0; b < blocks; b++) {
            long at = base + b * blockBytes;
            int xb = xOff + b * 32;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            float xs = 0f;
            for (int p = 0; p < 16; p++) {
                ByteVector q = nibbles(w, at, p);
                float xh = x[xb + 16 + p] * (1f / 16);
                xs += x[xb + p];
                s0 = lo(q).fma(FloatVector.broadcast(F, x[xb + p] - xh), s0);
                s1 = signed(q).fma(FloatVector.broadcast(F, xh), s1);
            }
            a = s0.add(s1).sub(8f * xs).fma(scales(w, at), a);
        }
        return a;
    }

    /** Plain scalar row dot through the matrix's accessors, for species the vector kernels do not cover. */
    static float dotScalar(QuantizedMatrix w, int r, float[] x, int xOff) {
        float sum = 0f;
        boolean q8 = w.format() == Format.Q8_0;
        for (int b = 0; b < w.cols() / QuantizedMatrix.BLOCK; b++) {
            float s = 0f;
            for (int j = 0; j < QuantizedMatrix.BLOCK; j++) {
                int c = b * QuantizedMatrix.BLOCK + j;
                int q = w.quant(r, c);
                s += (q8 ? q : q - 8) * x[xOff + c];
            }
            sum += s * w.scale(r, b);
        }
        return sum;
    }
}
