package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix × vector (decode) for the {@link BlockMatrix} formats with a kernel of their own: {@link Format#Q8_0},
 * {@link Format#Q4_0}, {@link Format#Q5_0}, {@link Format#Q4_K}, {@link Format#Q5_K} and {@link Format#Q6_K}, read in place from the
 * row-major ggml blocks. Each row is one sequential stream; a vector of quants is loaded as bytes, widened to
 * ints in registers (nibbles and high bits split there: x86 has no byte shift), turned into the weights exactly
 * as {@code rowToFloats} computes them (same float32 operations, so the same weights) and multiplied into a
 * per-row accumulator. Only the summation order differs from the generic path.
 *
 * <p>Q8_0 is the exception: as llama.cpp does, x is quantized once per product to Q8_0 blocks ({@link #quantize})
 * and each block's product is summed in integers, four rows at a time sharing x. Widening, converting and
 * scaling every weight costs more instructions than reading its byte from memory takes; one conversion and one
 * scale per block of 32 do not. The result differs from the float product by x's quantization error (at most
 * half a step of {@code max|x|/127} per element), as llama.cpp's does. Each row's sum is the same whichever
 * thread or pass computes it.
 *
 * <p>Vectors of 8 or 16 floats only ({@link #VECTOR}): a vector then covers whole half-groups of 16 weights.
 */
final class BlockMatVec {

    /** Whether the kernels run: float vectors of 8 or 16 lanes. */
    static final boolean VECTOR = F.length() == 8 || F.length() == 16;

    private static final int L = F.length();
    /** Bytes as many as the float lanes, widened to ints of the float vector's shape. */
    private static final VectorSpecies<Byte> B =
            VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /** Shorts filling the float vector's shape, and bytes at half of it: one load widens to one short vector. */
    private static final VectorSpecies<Short> SW = VectorSpecies.of(short.class, F.vectorShape());

    private static final VectorSpecies<Byte> BH =
            VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int SL = SW.length();

    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);

    /** Rows per unit the pool hands out. */
    private static final int ROWS = 4;

    private BlockMatVec() {}

    /** Per thread: a row's K-quant group scales and minimums, unpacked ahead of its weights. */
    private static final ThreadLocal<float[]> GROUPS = ThreadLocal.withInitial(() -> new float[0]);

    /** Whether {@code format} has a decode kernel here (on this vector width). */
    static boolean covers(Format format) {
        return VECTOR
                && switch (format) {
                    case Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K -> true;
                    default -> false;
                };
    }

    private static final class Job extends ProductJob<BlockMatrix> {
        /** x quantized to Q8_0 blocks: quants widened to shorts, and a scale per 32 columns. */
        short[] xq = new short[0];

        float[] xd = new float[0];

        @Override
        int prepare() {
            if (w.format() == Format.Q8_0) {
                int blocks = w.cols() / 32;
                if (xd.length < blocks) {
                    xd = new float[blocks];
                    xq = new short[32 * blocks];
                }
                quantize(x, xOff, blocks, xq, xd);
            }
            return (w.rows() + ROWS - 1) / ROWS;
        }

        /** Matrices smaller than {@link MatVec#INLINE_BYTES} run on the calling thread alone. */
        @Override
        ThreadPool pool(ThreadPool pool) {
            return w.byteSize() < MatVec.INLINE_BYTES ? ThreadPool.INLINE : pool;
        }

        @Override
        public void run(int from, int to) {
            MemorySegment data = w.data();
            long rb = w.rowBytes();
            int blocks = w.cols() / w.format().blockSize();
            float[] lanes = Lanes.scratch();
            float[] groups = w.format() == Format.Q4_K ? Scratch.floats(GROUPS, 16 * blocks) : null;
            int end = Math.min(to * ROWS, w.rows());
            int r = from * ROWS;
            if (w.format() == Format.Q8_0) {
                for (; r + ROWS <= end; r += ROWS) {
                    q8_0x4(data, r * rb, rb, blocks, xq, xd, out, outOff + r, lanes);
                }
            }
            for (; r < end; r++) {
                long at = r * rb;
                out[outOff + r] = switch (w.format()) {
                    case Q8_0 -> q8_0(data, at, blocks, xq, xd, lanes);
                    case Q4_0 -> q4_0(data, at, blocks, x, xOff, lanes);
                    case Q5_0 -> q5_0(data, at, blocks, x, xOff, lanes);
                    case Q4_K -> q4k(data, at, blocks, x, xOff, lanes, groups);
                    case Q5_K -> q5k(data, at, blocks, x, xOff, lanes);
                    case Q6_K -> q6k(data, at, blocks, x, xOff, lanes);
                    default -> throw new IllegalStateException(w.format() + " has no decode kernel");
                };
            }
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** {@code out[outOff + r] = W[r] · x[xOff ..]} for every row, split across the pool's threads. */
    static void multiply(BlockMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (!covers(w.format())) {
            throw new IllegalArgumentException("matrix " + w.name() + ": no decode kernel for " + w.format());
        }
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /**
     * x as Q8_0 blocks, llama.cpp's activation quantization: per 32 columns {@code d = max|x| / 127} and
     * {@code q = round(x / d)}, so {@code |q| ≤ 127}.
     */
    static void quantize(float[] x, int xOff, int blocks, short[] q, float[] d) {
        for (int b = 0; b < blocks; b++) {
            int o = xOff + 32 * b;
            float max = 0;
            for (int j = 0; j < 32; j++) {
                max = Math.max(max, Math.abs(x[o + j]));
            }
            float db = max / 127;
            d[b] = db;
            for (int j = 0; j < 32; j++) {
                // x / d, not x · (1/d): 1/d overflows for subnormal d.
                q[32 * b + j] = db != 0 ? (short) Math.round(x[o + j] / db) : 0;
            }
        }
    }

    /*
     * The loops below stream a row as a while over a long byte offset (MatVec's STREAM_LOOPS) and write the
     * widening out in place: a helper C2 declines to inline boxes every vector.
     */

    /*
     * Q8_0 runs against x quantized the same way ({@link #quantize}, llama.cpp's own decode): each block's
     * product is exact in integers, then converted and scaled once, d_w·d_x. A product of two quants fits a
     * short ({@code |q_w| ≤ 128}, {@code |q_x| ≤ 127}) and so does the sum of two, so the 16-bit products are
     * summed pairwise into int lanes by a shift and an add: (p + (p << 16)) >> 16 is the pair's sum.
     */

    /** One Q8_0 row against x quantized by {@link #quantize}: as one row of {@link #q8_0x4}, the same sums. */
    static float q8_0(MemorySegment s, long at, int blocks, short[] xq, float[] xd, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        long end = at + blocks * 34L;
        int xb = 0;
        while (at < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            IntVector i0 = IntVector.zero(I);
            for (int j = 0; j < 32; j += SL) {
                ShortVector xv = ShortVector.fromArray(SW, xq, xb + j);
                IntVector p0 = ((ShortVector) ByteVector.fromMemorySegment(BH, s, at + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretAsInts();
                i0 = i0.add(p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
            }
            float d0 = Float.float16ToFloat(s.get(Convert.I16, at)) * xd[xb >> 5];
            acc = ((FloatVector) i0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d0), acc);
            at += 34;
            xb += 32;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /**
     * Four adjacent Q8_0 rows from {@code at}, {@code rb} bytes apart, into {@code out[o .. o+4)}: each block of x
     * loaded once for the four, and the loop's bookkeeping shared, which is most of what a block costs.
     */
    static void q8_0x4(
            MemorySegment s, long at, long rb, int blocks, short[] xq, float[] xd, float[] out, int o, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long r1 = at + rb, r2 = r1 + rb, r3 = r2 + rb;
        long off = 0;
        long end = blocks * 34L;
        int xb = 0;
        while (off < end) { // not a counted loop, as MatVec's STREAM_LOOPS
            IntVector i0 = IntVector.zero(I), i1 = IntVector.zero(I), i2 = IntVector.zero(I), i3 = IntVector.zero(I);
            for (int j = 0; j < 32; j += SL) {
                ShortVector xv = ShortVector.fromArray(SW, xq, xb + j);
                IntVector p0 = ((ShortVector) ByteVector.fromMemorySegment(BH, s, at + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretAsInts();
                i0 = i0.add(p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p1 = ((ShortVector) ByteVector.fromMemorySegment(BH, s, r1 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretAsInts();
                i1 = i1.add(p1.add(p1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p2 = ((ShortVector) ByteVector.fromMemorySegment(BH, s, r2 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretAsInts();
                i2 = i2.add(p2.add(p2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p3 = ((ShortVector) ByteVector.fromMemorySegment(BH, s, r3 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretAsInts();
                i3 = i3.add(p3.add(p3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
            }
            float dx = xd[xb >> 5];
            float d0 = Float.float16ToFloat(s.get(Convert.I16, at + off)) * dx;
            float d1 = Float.float16ToFloat(s.get(Convert.I16, r1 + off)) * dx;
            float d2 = Float.float16ToFloat(s.get(Convert.I16, r2 + off)) * dx;
            float d3 = Float.float16ToFloat(s.get(Convert.I16, r3 + off)) * dx;
            a0 = ((FloatVector) i0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d0), a0);
            a1 = ((FloatVector) i1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d1), a1);
            a2 = ((FloatVector) i2.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d2), a2);
            a3 = ((FloatVector) i3.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, d3), a3);
            off += 34;
            xb += 32;
        }
        a0.intoArray(lanes, 0);
        out[o] = Lanes.sum(lanes);
        a1.intoArray(lanes, 0);
        out[o + 1] = Lanes.sum(lanes);
        a2.intoArray(lanes, 0);
        out[o + 2] = Lanes.sum(lanes);
        a3.intoArray(lanes, 0);
        out[o + 3] = Lanes.sum(lanes);
    }

    /** Q4_0: {@code w = (q - 8)·d}, low nibbles weights 0..15, high nibbles 16..31. */
    static float q4_0(MemorySegment s, long at, int blocks, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        long end = at + blocks * 18L;
        int xb = xOff;
        while (at < end) {
            float d = Float.float16ToFloat(s.get(Convert.I16, at));
            for (int j = 0; j < 16; j += L) {
                IntVector b = (IntVector)
                        ByteVector.fromMemorySegment(B, s, at + 2 + j, LE).convertShape(VectorOperators.B2I, I, 0);
                FloatVector lo = (FloatVector) b.and(0xF).sub(8).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector)
                        b.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convert(VectorOperators.I2F, 0);
                acc = lo.mul(d).fma(FloatVector.fromArray(F, x, xb + j), acc);
                acc = hi.mul(d).fma(FloatVector.fromArray(F, x, xb + 16 + j), acc);
            }
            at += 18;
            xb += 32;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /** Q5_0: {@code w = (q - 16)·d}, bit {@code j} of the u32 the fifth bit of weight {@code j}. */
    static float q5_0(MemorySegment s, long at, int blocks, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        IntVector lane = IntVector.zero(I).addIndex(1);
        long end = at + blocks * 22L;
        int xb = xOff;
        while (at < end) {
            float d = Float.float16ToFloat(s.get(Convert.I16, at));
            IntVector qh = IntVector.broadcast(I, s.get(Convert.I32, at + 2));
            for (int j = 0; j < 16; j += L) {
                IntVector b = (IntVector)
                        ByteVector.fromMemorySegment(B, s, at + 6 + j, LE).convertShape(VectorOperators.B2I, I, 0);
                IntVector hLo =
                        qh.lanewise(VectorOperators.LSHR, lane.add(j)).and(1).lanewise(VectorOperators.LSHL, 4);
                IntVector hHi = qh.lanewise(VectorOperators.LSHR, lane.add(j + 16))
                        .and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                FloatVector lo = (FloatVector) b.and(0xF).or(hLo).sub(16).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector) b.lanewise(VectorOperators.ASHR, 4)
                        .and(0xF)
                        .or(hHi)
                        .sub(16)
                        .convert(VectorOperators.I2F, 0);
                acc = lo.mul(d).fma(FloatVector.fromArray(F, x, xb + j), acc);
                acc = hi.mul(d).fma(FloatVector.fromArray(F, x, xb + 16 + j), acc);
            }
            at += 22;
            xb += 32;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /** Q4_K: {@code w = (d·sc)·q - dmin·m} per 32-weight group, as {@link KQuantMatrix} decodes it. */
    static float q4k(MemorySegment s, long at, int blocks, float[] x, int xOff, float[] lanes, float[] groups) {
        // The groups' scales and minimums first, in a loop of their own: unpacked inside the vector loop they cost as
        // many instructions as the weights do there and crowd its registers. Same float operations, same weights.
        for (int k = 0; k < blocks; k++) {
            long b0 = at + 144L * k;
            float d = Float.float16ToFloat(s.get(Convert.I16, b0));
            float dmin = Float.float16ToFloat(s.get(Convert.I16, b0 + 2));
            // The 12 scale bytes in two reads, unpacked in registers (a segment read each costs a bounds check).
            long s0 = s.get(I64, b0 + 4);
            long s1 = s.get(Convert.I32, b0 + 12) & 0xFFFFFFFFL;
            for (int j = 0; j < 8; j++) {
                groups[16 * k + j] = d * scale6(s0, s1, j, 0);
                groups[16 * k + 8 + j] = dmin * scale6(s0, s1, j, 4);
            }
        }
        FloatVector lo0 = FloatVector.zero(F);
        FloatVector hi0 = FloatVector.zero(F);
        // A counted loop over blocks: C2 hoists the segment's liveness check out of it (not out of a loop on a long).
        for (int k = 0; k < blocks; k++) {
            long q0 = at + 144L * k + 16;
            int xb = xOff + 256 * k;
            int g = 16 * k;
            for (int i = 0; i < 4; i++) {
                float d1 = groups[g + 2 * i];
                float d2 = groups[g + 2 * i + 1];
                float m1 = groups[g + 8 + 2 * i];
                float m2 = groups[g + 8 + 2 * i + 1];
                long q = q0 + 32L * i;
                int xg = xb + 64 * i;
                for (int l = 0; l < 32; l += L) {
                    IntVector b = (IntVector)
                            ByteVector.fromMemorySegment(B, s, q + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    FloatVector lo = (FloatVector) b.and(0xF).convert(VectorOperators.I2F, 0);
                    FloatVector hi = (FloatVector)
                            b.lanewise(VectorOperators.ASHR, 4).and(0xF).convert(VectorOperators.I2F, 0);
                    lo0 = lo.mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xg + l), lo0);
                    hi0 = hi.mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xg + 32 + l), hi0);
                }
            }
        }
        lo0.add(hi0).intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /** Q5_K: Q4_K with a fifth bit, bit {@code 2i} of byte {@code l} of the 32 high-bit bytes for the low nibbles. */
    static float q5k(MemorySegment s, long at, int blocks, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        long end = at + blocks * 176L;
        int xb = xOff;
        while (at < end) {
            float d = Float.float16ToFloat(s.get(Convert.I16, at));
            float dmin = Float.float16ToFloat(s.get(Convert.I16, at + 2));
            long s0 = s.get(I64, at + 4);
            long s1 = s.get(Convert.I32, at + 12) & 0xFFFFFFFFL;
            for (int i = 0; i < 4; i++) {
                float d1 = d * scale6(s0, s1, 2 * i, 0);
                float m1 = dmin * scale6(s0, s1, 2 * i, 4);
                float d2 = d * scale6(s0, s1, 2 * i + 1, 0);
                float m2 = dmin * scale6(s0, s1, 2 * i + 1, 4);
                long q = at + 48 + 32L * i;
                int xg = xb + 64 * i;
                for (int l = 0; l < 32; l += L) {
                    IntVector b = (IntVector)
                            ByteVector.fromMemorySegment(B, s, q + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    IntVector h = (IntVector)
                            ByteVector.fromMemorySegment(B, s, at + 16 + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    FloatVector lo = (FloatVector) b.and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 2 * i).and(1).lanewise(VectorOperators.LSHL, 4))
                            .convert(VectorOperators.I2F, 0);
                    FloatVector hi = (FloatVector) b.lanewise(VectorOperators.ASHR, 4)
                            .and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 2 * i + 1)
                                    .and(1)
                                    .lanewise(VectorOperators.LSHL, 4))
                            .convert(VectorOperators.I2F, 0);
                    acc = lo.mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xg + l), acc);
                    acc = hi.mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xg + 32 + l), acc);
                }
            }
            at += 176;
            xb += 256;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /**
     * Six-bit scale ({@code k = 0}) or minimum ({@code k = 4}) {@code j} of the K-quant scale bytes, bytes 0..7 in
     * {@code s0} and 8..11 in {@code s1}: {@link KQuantMatrix#scaleMin}'s unpacking.
     */
    private static int scale6(long s0, long s1, int j, int k) {
        if (j < 4) {
            return (int) (s0 >>> (8 * (j + k))) & 63;
        }
        int packed = (int) (s1 >>> (8 * (j - 4))) & 0xFF;
        int top = (int) (s0 >>> (8 * (j - 4 + k))) & 0xFF;
        return (k == 0 ? packed & 0xF : packed >>> 4) | ((top >>> 6) << 4);
    }

    /** Q6_K: {@code w = (d·sc)·(q - 32)}, each 128-weight half from 64 low-nibble bytes and 32 high-pair bytes. */
    static float q6k(MemorySegment s, long at, int blocks, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        long end = at + blocks * 210L;
        int xb = xOff;
        while (at < end) {
            float d = Float.float16ToFloat(s.get(Convert.I16, at + 208));
            for (int half = 0; half < 2; half++) {
                long ql = at + 64L * half;
                long qh = at + 128 + 32L * half;
                long sc = at + 192 + 8L * half;
                int xh = xb + 128 * half;
                for (int l = 0; l < 32; l += L) {
                    int g = l / 16;
                    IntVector a = (IntVector)
                            ByteVector.fromMemorySegment(B, s, ql + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    IntVector b = (IntVector)
                            ByteVector.fromMemorySegment(B, s, ql + 32 + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    IntVector h = (IntVector)
                            ByteVector.fromMemorySegment(B, s, qh + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    FloatVector q1 = (FloatVector) a.and(0xF)
                            .or(h.and(3).lanewise(VectorOperators.LSHL, 4))
                            .sub(32)
                            .convert(VectorOperators.I2F, 0);
                    FloatVector q2 = (FloatVector) b.and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 2).and(3).lanewise(VectorOperators.LSHL, 4))
                            .sub(32)
                            .convert(VectorOperators.I2F, 0);
                    FloatVector q3 = (FloatVector) a.lanewise(VectorOperators.ASHR, 4)
                            .and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 4).and(3).lanewise(VectorOperators.LSHL, 4))
                            .sub(32)
                            .convert(VectorOperators.I2F, 0);
                    FloatVector q4 = (FloatVector) b.lanewise(VectorOperators.ASHR, 4)
                            .and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 6).and(3).lanewise(VectorOperators.LSHL, 4))
                            .sub(32)
                            .convert(VectorOperators.I2F, 0);
                    float s1 = d * s.get(BlockMatrix.I8, sc + g);
                    float s2 = d * s.get(BlockMatrix.I8, sc + g + 2);
                    float s3 = d * s.get(BlockMatrix.I8, sc + g + 4);
                    float s4 = d * s.get(BlockMatrix.I8, sc + g + 6);
                    acc = q1.mul(s1).fma(FloatVector.fromArray(F, x, xh + l), acc);
                    acc = q2.mul(s2).fma(FloatVector.fromArray(F, x, xh + 32 + l), acc);
                    acc = q3.mul(s3).fma(FloatVector.fromArray(F, x, xh + 64 + l), acc);
                    acc = q4.mul(s4).fma(FloatVector.fromArray(F, x, xh + 96 + l), acc);
                }
            }
            at += 210;
            xb += 256;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }
}
