package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix × vector (decode) for the {@link BlockMatrix} formats with a kernel of their own: {@link Format#Q8_0},
 * {@link Format#Q4_0}, {@link Format#Q5_0}, {@link Format#Q4_K}, {@link Format#Q5_K} and {@link Format#Q6_K}, read in place from the
 * row-major ggml blocks. Each row is one sequential stream; a vector of quants is loaded as bytes and widened in
 * registers (nibbles and high bits split there: x86 has no byte shift).
 *
 * <p>Q4_0, Q5_0 and Q5_K multiply by x itself: the widened quants are turned into the weights exactly as
 * {@code rowToFloats} computes them (same float32 operations, so the same weights) and multiplied into a per-row
 * accumulator; only the summation order differs from the generic path.
 *
 * <p>Q8_0, Q4_K and Q6_K run as llama.cpp does: x is quantized once per product to Q8_0 blocks ({@link #quantize})
 * and each group's product of quants is summed exactly in integers, then converted and scaled once per group
 * (Q8_0 four rows at a time sharing x). Widening, converting and scaling every weight costs more instructions
 * than reading its byte from memory takes; one conversion and one scale per group do not. The result differs
 * from the float product by x's quantization error (at most half a step of {@code max|x|/127} per element), as
 * llama.cpp's does. Each row's sum is the same whichever thread or pass computes it.
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

    private static final ValueLayout.OfLong I64 = BlockMatrix.I64;

    /** Rows per unit the pool hands out. */
    private static final int ROWS = 4;

    private BlockMatVec() {}

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

        /** Q4_K's per-256-column scales and sums of x ({@link #groupSums}). */
        float[] xs = new float[0];

        @Override
        int prepare() {
            if (quantizesX(w.format())) {
                int blocks = w.cols() / 32;
                if (xd.length < blocks) {
                    xd = new float[blocks];
                    xq = new short[32 * blocks];
                    xs = new float[2 * blocks];
                }
                quantize(x, xOff, blocks, xq, xd);
                if (w.format() == Format.Q4_K) {
                    groupSums(xq, xd, blocks, xs);
                }
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
            float[] scales = Scratch.floats(SCALES, 16); // Q4_K: a super-block's group scales and minimums
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
                    case Q4_K -> q4k(data, at, blocks, xq, xs, lanes, scales);
                    case Q5_K -> q5k(data, at, blocks, x, xOff, lanes);
                    case Q6_K -> q6k(data, at, blocks, xq, xd, lanes);
                    default -> throw new IllegalStateException(w.format() + " has no decode kernel");
                };
            }
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** Per thread: one Q4_K super-block's group scales and minimums ({@link #q4k}). */
    private static final ThreadLocal<float[]> SCALES = ThreadLocal.withInitial(() -> new float[16]);

    /** {@code out[outOff + r] = W[r] · x[xOff ..]} for every row, split across the pool's threads. */
    static void multiply(BlockMatrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (!covers(w.format())) {
            throw new IllegalArgumentException("matrix " + w.name() + ": no decode kernel for " + w.format());
        }
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /** Whether the format's kernel runs against x quantized to Q8_0 blocks ({@link #quantize}). */
    static boolean quantizesX(Format format) {
        return format == Format.Q8_0 || format == Format.Q4_K || format == Format.Q6_K;
    }

    /**
     * x as Q8_0 blocks, llama.cpp's activation quantization: per 32 columns {@code d = max|x| / 127} and
     * {@code q = round(x / d)}, so {@code |q| ≤ 127}.
     */
    static void quantize(float[] x, int xOff, int blocks, short[] q, float[] d) {
        if (!VECTOR) {
            quantizeScalar(x, xOff, blocks, q, d);
            return;
        }
        for (int b = 0; b < blocks; b++) {
            int o = xOff + 32 * b;
            FloatVector m = FloatVector.zero(F);
            for (int j = 0; j < 32; j += L) {
                m = m.max(FloatVector.fromArray(F, x, o + j).abs());
            }
            float db = m.reduceLanes(VectorOperators.MAX) / 127;
            d[b] = db;
            for (int j = 0; j < 32; j += L) {
                // x / d, not x · (1/d): 1/d overflows for subnormal d. Math.round is floor(v + 0.5): the
                // truncation t plus one where v - t ≥ 0.5, less one where v - t < -0.5 (v - t is exact).
                FloatVector v = db != 0 ? FloatVector.fromArray(F, x, o + j).div(db) : FloatVector.zero(F);
                IntVector t = (IntVector) v.convertShape(VectorOperators.F2I, I, 0);
                FloatVector frac = v.sub((FloatVector) t.convertShape(VectorOperators.I2F, F, 0));
                t = t.add(1, frac.compare(VectorOperators.GE, 0.5f).cast(I))
                        .sub(1, frac.compare(VectorOperators.LT, -0.5f).cast(I));
                ((ShortVector) t.convertShape(VectorOperators.I2S, Convert.S, 0)).intoArray(q, 32 * b + j);
            }
        }
    }

    /** {@link #quantize} one element at a time, for the vector widths the kernels do not cover. */
    static void quantizeScalar(float[] x, int xOff, int blocks, short[] q, float[] d) {
        for (int b = 0; b < blocks; b++) {
            int o = xOff + 32 * b;
            float max = 0;
            for (int j = 0; j < 32; j++) {
                max = Math.max(max, Math.abs(x[o + j]));
            }
            float db = max / 127;
            d[b] = db;
            for (int j = 0; j < 32; j++) {
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
                IntVector p0 = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(BH, s, at + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretShape(I, 0);
                i0 = i0.add(p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
            }
            float d0 = Float.float16ToFloat(s.get(Convert.I16, at)) * xd[xb >> 5];
            acc = ((FloatVector) i0.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, d0), acc);
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
                IntVector p0 = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(BH, s, at + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretShape(I, 0);
                i0 = i0.add(p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p1 = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(BH, s, r1 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretShape(I, 0);
                i1 = i1.add(p1.add(p1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p2 = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(BH, s, r2 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretShape(I, 0);
                i2 = i2.add(p2.add(p2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                IntVector p3 = (IntVector) ((ShortVector) ByteVector.fromMemorySegment(BH, s, r3 + off + 2 + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0))
                        .mul(xv)
                        .reinterpretShape(I, 0);
                i3 = i3.add(p3.add(p3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
            }
            float dx = xd[xb >> 5];
            float d0 = Float.float16ToFloat(s.get(Convert.I16, at + off)) * dx;
            float d1 = Float.float16ToFloat(s.get(Convert.I16, r1 + off)) * dx;
            float d2 = Float.float16ToFloat(s.get(Convert.I16, r2 + off)) * dx;
            float d3 = Float.float16ToFloat(s.get(Convert.I16, r3 + off)) * dx;
            a0 = ((FloatVector) i0.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, d0), a0);
            a1 = ((FloatVector) i1.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, d1), a1);
            a2 = ((FloatVector) i2.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, d2), a2);
            a3 = ((FloatVector) i3.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, d3), a3);
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
                FloatVector lo = (FloatVector) b.and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector)
                        b.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
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
                FloatVector lo = (FloatVector) b.and(0xF).or(hLo).sub(16).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) b.lanewise(VectorOperators.ASHR, 4)
                        .and(0xF)
                        .or(hHi)
                        .sub(16)
                        .convertShape(VectorOperators.I2F, F, 0);
                acc = lo.mul(d).fma(FloatVector.fromArray(F, x, xb + j), acc);
                acc = hi.mul(d).fma(FloatVector.fromArray(F, x, xb + 16 + j), acc);
            }
            at += 22;
            xb += 32;
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /**
     * Q4_K against x quantized to Q8_0 blocks. Group {@code g} of 32 weights is {@code (d·sc_g)·q - dmin·m_g}
     * and lies on one x block, so its product is {@code (d·sc_g)·dx·Σ q·xq - dmin·m_g·(dx·Σ xq)}: the first sum
     * exact in integers, the second from {@code xs} ({@link #groupSums}). Same weights as {@link KQuantMatrix}
     * decodes; the result differs from the float product by x's quantization only.
     *
     * <p>A super-block's eight scales and eight minimums are widened and multiplied in vectors, all sixteen at
     * once: one at a time in scalar code they cost as much as the block's weights.
     */
    static float q4k(MemorySegment s, long at, int blocks, short[] xq, float[] xs, float[] lanes, float[] scales) {
        FloatVector acc = FloatVector.zero(F);
        FloatVector mins = FloatVector.zero(F);
        // A counted loop over blocks: C2 hoists the segment's liveness check out of it (not out of a loop on a long).
        for (int k = 0; k < blocks; k++) {
            long b0 = at + 144L * k;
            float d = Float.float16ToFloat(s.get(Convert.I16, b0));
            float dmin = Float.float16ToFloat(s.get(Convert.I16, b0 + 2));
            long s0 = s.get(I64, b0 + 4);
            long s1 = s.get(Convert.I32, b0 + 12) & 0xFFFFFFFFL;
            ByteVector sm = (ByteVector) LongVector.zero(L2)
                    .withLane(0, KQuantMatrix.scales6(s0, s1))
                    .withLane(1, KQuantMatrix.mins6(s0, s1))
                    .reinterpretShape(B128, 0);
            // Lanes 0..7: (d·sc_g)·dx_g, what group g's integer sum is scaled by; 8..15: dmin·m_g·(dx·Σxq)_g.
            for (int p = 0; p < 16; p += L) {
                FloatVector v = (FloatVector)
                        sm.convertShape(VectorOperators.B2I, I, p / L).convertShape(VectorOperators.I2F, F, 0);
                VectorMask<Float> minLanes = MIN_LANES[p / L];
                v = v.mul(FloatVector.broadcast(F, d).blend(dmin, minLanes))
                        .mul(FloatVector.fromArray(F, xs, 16 * k + p));
                v.intoArray(scales, p);
                mins = mins.add(v, minLanes);
            }
            for (int i = 0; i < 4; i++) {
                long q = b0 + 16 + 32L * i;
                int xl = 256 * k + 64 * i; // x of the low nibbles (group 2i); the high ones (2i+1) follow
                IntVector lo = IntVector.zero(I), hi = IntVector.zero(I);
                for (int j = 0; j < 32; j += SL) {
                    ShortVector b = (ShortVector)
                            ByteVector.fromMemorySegment(BH, s, q + j, LE).convertShape(VectorOperators.B2S, SW, 0);
                    IntVector pl = (IntVector) b.and((short) 0xF)
                            .mul(ShortVector.fromArray(SW, xq, xl + j))
                            .reinterpretShape(I, 0);
                    IntVector ph = (IntVector) b.lanewise(VectorOperators.ASHR, 4)
                            .and((short) 0xF)
                            .mul(ShortVector.fromArray(SW, xq, xl + 32 + j))
                            .reinterpretShape(I, 0);
                    lo = lo.add(pl.add(pl.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                    hi = hi.add(ph.add(ph.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
                }
                acc = ((FloatVector) lo.convertShape(VectorOperators.I2F, F, 0))
                        .fma(FloatVector.broadcast(F, scales[2 * i]), acc);
                acc = ((FloatVector) hi.convertShape(VectorOperators.I2F, F, 0))
                        .fma(FloatVector.broadcast(F, scales[2 * i + 1]), acc);
            }
        }
        acc.sub(mins).intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /** Two longs: the scale bytes and minimum bytes of a K-quant super-block, widened from there. */
    private static final VectorSpecies<Long> L2 = LongVector.SPECIES_128;

    /** The same 128 bits as bytes. */
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;

    /** Per 16 lanes of scales and minimums, float vector {@code p}'s lanes that hold minimums (8..15). */
    private static final VectorMask<Float>[] MIN_LANES = minLanes();

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static VectorMask<Float>[] minLanes() {
        VectorMask<Float>[] m = new VectorMask[Math.max(1, 16 / L)];
        for (int p = 0; p < m.length; p++) {
            m[p] = F.indexInRange(p * L - 8, L);
        }
        return m;
    }

    /**
     * Q4_K's view of x, per 256 columns: the eight blocks' scales {@code dx}, then their sums {@code dx·Σ xq}
     * (what a group's minimum multiplies), the layout {@link #q4k} loads sixteen at a time.
     */
    static void groupSums(short[] q, float[] d, int blocks, float[] xs) {
        for (int b = 0; b < blocks; b++) {
            int total = 0;
            for (int j = 0; j < 32; j++) {
                total += q[32 * b + j];
            }
            xs[16 * (b / 8) + b % 8] = d[b];
            xs[16 * (b / 8) + 8 + b % 8] = d[b] * total;
        }
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
            long sc = KQuantMatrix.scales6(s0, s1);
            long m = KQuantMatrix.mins6(s0, s1);
            for (int i = 0; i < 4; i++) {
                float d1 = d * (int) ((sc >>> (16 * i)) & 0xFF);
                float m1 = dmin * (int) ((m >>> (16 * i)) & 0xFF);
                float d2 = d * (int) ((sc >>> (16 * i + 8)) & 0xFF);
                float m2 = dmin * (int) ((m >>> (16 * i + 8)) & 0xFF);
                long q = at + 48 + 32L * i;
                int xg = xb + 64 * i;
                for (int l = 0; l < 32; l += L) {
                    IntVector b = (IntVector)
                            ByteVector.fromMemorySegment(B, s, q + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    IntVector h = (IntVector)
                            ByteVector.fromMemorySegment(B, s, at + 16 + l, LE).convertShape(VectorOperators.B2I, I, 0);
                    FloatVector lo = (FloatVector) b.and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 2 * i).and(1).lanewise(VectorOperators.LSHL, 4))
                            .convertShape(VectorOperators.I2F, F, 0);
                    FloatVector hi = (FloatVector) b.lanewise(VectorOperators.ASHR, 4)
                            .and(0xF)
                            .or(h.lanewise(VectorOperators.ASHR, 2 * i + 1)
                                    .and(1)
                                    .lanewise(VectorOperators.LSHL, 4))
                            .convertShape(VectorOperators.I2F, F, 0);
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
     * Q6_K against x quantized to Q8_0 blocks: {@code w = (d·sc)·(q - 32)} with a scale per 16 weights. Each
     * 128-weight half reads 64 low-nibble bytes and 32 bytes of high bit pairs; a vector of products summed in
     * pairs holds two scale groups when it is 32 shorts wide (lanes below half the first), one when 16.
     */
    static float q6k(MemorySegment s, long at, int blocks, short[] xq, float[] xd, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        for (int k = 0; k < blocks; k++) {
            long b0 = at + 210L * k;
            float d = Float.float16ToFloat(s.get(Convert.I16, b0 + 208));
            for (int half = 0; half < 2; half++) {
                long ql = b0 + 64L * half;
                long qh = b0 + 128 + 32L * half;
                long sc = s.get(I64, b0 + 192 + 8L * half); // eight int8 scales
                int xh = 256 * k + 128 * half;
                for (int j = 0; j < 32; j += SL) {
                    ShortVector h = (ShortVector)
                            ByteVector.fromMemorySegment(BH, s, qh + j, LE).convertShape(VectorOperators.B2S, SW, 0);
                    // Bit pair n of h tops quant n; h4 >> 2n & 0x30 moves it to bits 4..5.
                    ShortVector h4 = h.lanewise(VectorOperators.LSHL, 4);
                    // Quant bytes 0..31 hold quants 1 (low nibbles) and 3 (high), bytes 32..63 quants 2 and 4.
                    for (int part = 0; part < 2; part++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BH, s, ql + 32 * part + j, LE)
                                .convertShape(VectorOperators.B2S, SW, 0);
                        ShortVector qLo = v.and((short) 0xF)
                                .or(h4.lanewise(VectorOperators.ASHR, 2 * part).and((short) 0x30))
                                .sub((short) 32);
                        ShortVector qHi = v.lanewise(VectorOperators.ASHR, 4)
                                .and((short) 0xF)
                                .or(h4.lanewise(VectorOperators.ASHR, 2 * part + 4)
                                        .and((short) 0x30))
                                .sub((short) 32);
                        int xLo = xh + 32 * part; // quant 1 + part: weights 32·part.. of the half
                        int xHi = xLo + 64; // quant 3 + part
                        IntVector pLo = (IntVector)
                                qLo.mul(ShortVector.fromArray(SW, xq, xLo + j)).reinterpretShape(I, 0);
                        IntVector pHi = (IntVector)
                                qHi.mul(ShortVector.fromArray(SW, xq, xHi + j)).reinterpretShape(I, 0);
                        pLo = pLo.add(pLo.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
                        pHi = pHi.add(pHi.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
                        // Scale groups of the vector's two halves: weights j.. and j + SL/2.. of the 32.
                        int gA = 2 * part + (j >> 4), gB = 2 * part + ((j + SL / 2) >> 4);
                        float dxLo = xd[xLo >> 5], dxHi = xd[xHi >> 5];
                        FloatVector sLo = FloatVector.broadcast(F, d * (byte) (sc >>> (8 * gA)) * dxLo)
                                .blend(d * (byte) (sc >>> (8 * gB)) * dxLo, UPPER_HALF);
                        FloatVector sHi = FloatVector.broadcast(F, d * (byte) (sc >>> (8 * gA + 32)) * dxHi)
                                .blend(d * (byte) (sc >>> (8 * gB + 32)) * dxHi, UPPER_HALF);
                        acc = ((FloatVector) pLo.convertShape(VectorOperators.I2F, F, 0)).fma(sLo, acc);
                        acc = ((FloatVector) pHi.convertShape(VectorOperators.I2F, F, 0)).fma(sHi, acc);
                    }
                }
            }
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /** The upper half of a float vector's lanes. */
    private static final VectorMask<Float> UPPER_HALF = F.indexInRange(-L / 2, L / 2);
}
