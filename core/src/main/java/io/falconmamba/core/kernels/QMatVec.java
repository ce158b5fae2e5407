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
 * <p>Works a tile (one float vector of rows) at a time. Per block of 32 columns, each column's quants for the
 * tile's rows are one small load widened straight to a float vector (bytes → float for Q8_0; for Q4_0 a nibble
 * mask and bytes → float, see {@link #q4Tiles4}) and multiplied by a
 * broadcast of x into the block's sum; the block's sum is scaled by the vector of the tile's half scales into the tile's outputs. No horizontal sums,
 * one contiguous stream per tile, four tiles per pass sharing every broadcast. Tiles are split across the pool.
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

        /**
         * Groups of four tiles, so no thread's share ends in single-tile passes; single tiles for matrices of
         * few tiles (x_proj), where groups would split unevenly between the threads.
         */
        @Override
        int prepare() {
            unit = w.tiles() >= 8 * TILES_PER_PASS ? TILES_PER_PASS : 1;
            return (w.tiles() + unit - 1) / unit;
        }

        @Override
        ThreadPool pool(ThreadPool pool) {
            return w.byteSize() < MatVec.INLINE_BYTES ? ThreadPool.INLINE : pool;
        }

        @Override
        public void run(int from, int to) {
            tiles(w, x, xOff, out, outOff, from * unit, Math.min(w.tiles(), to * unit));
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: four vectors of outputs. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[TILES_PER_PASS * L]);

    /** {@code out[outOff + r] = Ŵ[r] · x[xOff ..]} for every row, split by tiles across the pool's threads. */
    static void multiply(QuantizedMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /** Single-threaded over tiles {@code [from, to)}. */
    static void tiles(QuantizedMatrix w, float[] x, int xOff, float[] out, int outOff, int from, int to) {
        if (!VECTOR) {
            for (int r = from * QuantizedMatrix.TILE; r < Math.min(w.rows(), to * QuantizedMatrix.TILE); r++) {
                out[outOff + r] = dotScalar(w, r, x, xOff);
            }
            return;
        }
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int blocks = w.blocks();
        float[] acc = ACC.get();
        boolean q8 = w.format() == Format.Q8_0;
        // A pass's four tiles are adjacent, or on AVX2 a quarter of the range apart (see MatVec.STREAMS).
        int groups = (to - from) / TILES_PER_PASS;
        int gap = MatVec.STREAMS ? groups : 1;
        for (int g = 0; g < groups; g++) {
            int first = from + (MatVec.STREAMS ? g : TILES_PER_PASS * g);
            if (q8) {
                q8Tiles4(data, first * tb, gap * tb, blocks, x, xOff, acc);
            } else {
                q4Tiles4(data, first * tb, gap * tb, blocks, x, xOff, acc);
            }
            for (int k = 0; k < TILES_PER_PASS; k++) {
                store(FloatVector.fromArray(F, acc, k * L), w.rows(), first + k * gap, out, outOff);
            }
        }
        for (int tile = from + TILES_PER_PASS * groups; tile < to; tile++) {
            FloatVector v = q8 ? q8Tile(data, tile * tb, blocks, x, xOff) : q4Tile(data, tile * tb, blocks, x, xOff);
            store(v, w.rows(), tile, out, outOff);
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
        return h.lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFE000)
                .reinterpretAsFloats()
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

    /**
     * Four consecutive Q4_0 tiles from {@code base}. With {@code lo} and {@code sb} the low nibble and the signed
     * stored byte ({@link #signed}), a column pair's share of the block's sum is
     * {@code (lo-8)·x[p] + (sb-lo)/16·x[p+16] = lo·(x[p] - x[p+16]/16) + sb·x[p+16]/16 - 8·x[p]}: two FMAs against
     * broadcasts shared by the four tiles, and {@code 8·Σx[p]} taken off once per block.
     */
    static void q4Tiles4(MemorySegment w, long base, long gap, int blocks, float[] x, int xOff, float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long t1 = base + gap, t2 = t1 + gap, t3 = t2 + gap;
        long blockBytes = 18L * L;
        long off = 0;
        long end = blocks * blockBytes;
        int xb = xOff;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            FloatVector s0 = FloatVector.zero(F),
                    s1 = FloatVector.zero(F),
                    s2 = FloatVector.zero(F),
                    s3 = FloatVector.zero(F);
            float xs = 0f;
            for (int p = 0; p < 16; p++) {
                float xh = x[xb + 16 + p] * (1f / 16);
                xs += x[xb + p];
                FloatVector u = FloatVector.broadcast(F, x[xb + p] - xh);
                FloatVector v = FloatVector.broadcast(F, xh);
                ByteVector q0 = nibbles(w, base + off, p);
                ByteVector q1 = nibbles(w, t1 + off, p);
                ByteVector q2 = nibbles(w, t2 + off, p);
                ByteVector q3 = nibbles(w, t3 + off, p);
                s0 = signed(q0).fma(v, lo(q0).fma(u, s0));
                s1 = signed(q1).fma(v, lo(q1).fma(u, s1));
                s2 = signed(q2).fma(v, lo(q2).fma(u, s2));
                s3 = signed(q3).fma(v, lo(q3).fma(u, s3));
            }
            float x8 = 8f * xs;
            // The scales written out (as scales() does): here a call would not be inlined, and would box.
            IntVector h0 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, base + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h1 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t1 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h2 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t2 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h3 = (IntVector)
                    ShortVector.fromMemorySegment(Convert.S, w, t3 + off, LE).convertShape(VectorOperators.S2I, I, 0);
            a0 = s0.sub(x8)
                    .fma(
                            h0.lanewise(VectorOperators.LSHL, 13)
                                    .and(0x8FFFE000)
                                    .reinterpretAsFloats()
                                    .mul(0x1p112f),
                            a0);
            a1 = s1.sub(x8)
                    .fma(
                            h1.lanewise(VectorOperators.LSHL, 13)
                                    .and(0x8FFFE000)
                                    .reinterpretAsFloats()
                                    .mul(0x1p112f),
                            a1);
            a2 = s2.sub(x8)
                    .fma(
                            h2.lanewise(VectorOperators.LSHL, 13)
                                    .and(0x8FFFE000)
                                    .reinterpretAsFloats()
                                    .mul(0x1p112f),
                            a2);
            a3 = s3.sub(x8)
                    .fma(
                            h3.lanewise(VectorOperators.LSHL, 13)
                                    .and(0x8FFFE000)
                                    .reinterpretAsFloats()
                                    .mul(0x1p112f),
                            a3);
            off += blockBytes;
            xb += 32;
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One Q4_0 tile, the block's sum formed as in {@link #q4Tiles4}. */
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
