package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix × vectors over a {@link PackedMatrix}: {@code out[t, r] = Σ_c W[r, c] · X[t, c]} for one token (decode)
 * or a few (batch decode); from {@link #MAX_TOKENS} tokens on, {@link MatMul}'s transposed tiles are faster
 * (they fill from this layout with plain vector widening).
 *
 * <p>Each vector load of a tile holds its rows at two adjacent columns; they are widened in registers (the
 * 16-bit halves moved to float position by shifts and masks, as {@link MatVec} does; F16 against x scaled by
 * 2^(112-e) per token, see {@link MatVec#split}) and multiplied by broadcasts of the two x values of every
 * token in the pass, accumulating a vector of outputs per token: no horizontal sums, one contiguous stream per
 * tile, and each widening shared by up to eight tokens. With eight tokens or more, tiles go in pairs: two
 * tiles against eight tokens share every broadcast.
 */
final class PackedMatMul {

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final int L = F.length();

    /**
     * Fewer tokens than this go through these kernels: below it they beat {@link MatMul}'s tiles over the same
     * packed matrix, from about here the two are even, and the tiles pull ahead (benchmarks/README.md has the
     * measurements).
     */
    static final int MAX_TOKENS = 32;

    /**
     * Unused floats after x. The kernels' loops run on a byte offset (not a counted loop), so C2 checks the x
     * reads against a range it derives loosely; with x ending exactly at the last column that check fails at
     * run time (-Xlog:deoptimization: range_check trap in tile8), and the method is recompiled with the checks
     * left inside the loop, where its sixteen broadcasts spill and the kernel runs at half speed or less.
     */
    static final int X_SLACK = 64;

    private PackedMatMul() {}

    private static final class Job extends ProductJob<PackedMatrix> {
        /** x of every token, F16-scaled, padded to an even width (see {@link #prepare}). */
        float[] xs = new float[0];

        int stride;
        float[] rescale = new float[0];
        float[] row = new float[0];

        /**
         * Units the pool hands out: four tiles for one token (the four-tile pass), pairs of tiles when the two-tile
         * pass applies, else tiles.
         */
        int unit;

        @Override
        public void run(int from, int to) {
            tiles(this, from * unit, Math.min(to * unit, w.tiles()));
        }

        /**
         * Copies x, F16-scaled, into {@code xs}: tokens in whole groups of eight in the {@link TokenGroups} layout
         * (rows of {@code stride}), the remaining tokens row by row after them. Units are groups of four tiles for
         * one token (from {@link #MIN_QUADS} groups on) and pairs of tiles for eight tokens or more, so no thread's
         * share but the matrix's last ends on lone tiles (the slower one-tile pass: with single tiles, the pool's
         * shrinking pieces sent about a seventh of fm-130m's decode through it).
         */
        @Override
        int prepare() {
            int cols = w.cols();
            stride = 2 * w.steps();
            // The slack past the last token keeps C2's hoisted range checks on xs from failing (see X_SLACK).
            if (xs.length < tokens * stride + X_SLACK) {
                xs = new float[tokens * stride + X_SLACK];
            }
            if (rescale.length < tokens) {
                rescale = new float[tokens];
            }
            if (row.length < stride) {
                row = new float[stride];
            }
            int grouped = tokens / 8 * 8;
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(x, xOff + t * xStride, row, 0, cols);
                Arrays.fill(row, cols, stride, 0f); // the padding columns
                rescale[t] = 1f;
                if (w.format() == Format.F16) {
                    int e = MatVec.scaleExponent(row, 0, cols);
                    MatVec.scale(row, 0, cols, Math.scalb(1f, F16Fields.SCALE - e));
                    rescale[t] = Math.scalb(1f, e);
                }
                if (t < grouped) {
                    TokenGroups.put(row, 0, stride, xs, t);
                } else {
                    System.arraycopy(row, 0, xs, t * stride, stride);
                }
            }
            unit = tokens == 1 && w.tiles() >= 4 * MIN_QUADS ? 4 : tokens >= 8 ? 2 : 1;
            return (w.tiles() + unit - 1) / unit;
        }
    }

    /**
     * One-token products hand out groups of four tiles from this many groups on (fm-130m's out_proj has 12, its
     * in_proj 48: as single tiles, the pool's shrinking pieces sent their odd tiles through the slower one-tile pass);
     * smaller matrices (x_proj: five tiles) hand out single tiles, as four-tile units would leave one thread most of
     * the work.
     */
    static final int MIN_QUADS = 8;

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: up to sixteen vectors of accumulated outputs. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[16 * L]);

    /** {@code out[outOff + t*outStride + r] = W[r] · x[xOff + t*xStride ..]} for {@code t < tokens}, every row. */
    static void multiply(
            PackedMatrix w,
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

    /** Single-threaded over tiles {@code [from, to)}. */
    private static void tiles(Job j, int from, int to) {
        PackedMatrix w = j.w;
        MemorySegment data = w.data();
        long tb = w.tileBytes();
        int steps = w.steps();
        int shift = PackedMatrix.shift(w.format());
        int evenMask = PackedMatrix.evenMask(w.format());
        int oddMask = PackedMatrix.oddMask(w.format());
        int rebias = PackedMatrix.scaledRebias(w.format());
        float[] acc = ACC.get();
        int tile = from;
        if (j.tokens == 1) {
            // Four tiles per pass: adjacent, or on AVX2 a quarter of the range apart (see MatVec.STREAMS).
            int groups = (to - from) / 4;
            int gap = MatVec.STREAMS ? groups : 1;
            for (int g = 0; g < groups; g++) {
                int first = from + (MatVec.STREAMS ? g : 4 * g);
                tiles4(data, first * tb, gap * tb, steps, shift, evenMask, oddMask, rebias, j.xs, 0, acc);
                for (int k = 0; k < 4; k++) {
                    store(j, acc, k, first + k * gap, 0);
                }
            }
            tile = from + 4 * groups;
        }
        if (j.tokens >= 8) {
            for (; tile + 2 <= to; tile += 2) {
                int t = 0;
                for (; t + 8 <= j.tokens; t += 8) {
                    tiles2x8(data, tile * tb, tb, steps, shift, evenMask, oddMask, rebias, j.xs, t * j.stride, acc);
                    for (int k = 0; k < 8; k++) {
                        store(j, acc, k, tile, t + k);
                        store(j, acc, 8 + k, tile + 1, t + k);
                    }
                }
                rest(j, data, tile, t, steps, shift, evenMask, oddMask, rebias, acc);
                rest(j, data, tile + 1, t, steps, shift, evenMask, oddMask, rebias, acc);
            }
        }
        for (; tile < to; tile++) {
            int t = 0;
            for (; t + 8 <= j.tokens; t += 8) {
                tile8(data, tile * tb, steps, shift, evenMask, oddMask, rebias, j.xs, t * j.stride, acc);
                for (int k = 0; k < 8; k++) {
                    store(j, acc, k, tile, t + k);
                }
            }
            rest(j, data, tile, t, steps, shift, evenMask, oddMask, rebias, acc);
        }
    }

    /** Tokens {@code from ..} of one tile, fewer than eight: a four-token pass, then single tokens. */
    private static void rest(
            Job j,
            MemorySegment data,
            int tile,
            int from,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] acc) {
        long base = tile * j.w.tileBytes();
        int t = from;
        if (t + 4 <= j.tokens) {
            tile4(data, base, steps, shift, evenMask, oddMask, rebias, j.xs, t * j.stride, j.stride, acc);
            for (int k = 0; k < 4; k++) {
                store(j, acc, k, tile, t + k);
            }
            t += 4;
        }
        for (; t < j.tokens; t++) {
            tile1(data, base, steps, shift, evenMask, oddMask, rebias, j.xs, t * j.stride, j.stride, acc);
            store(j, acc, 0, tile, t);
        }
    }

    /** Vector {@code k} of acc, rescaled, into token t's outputs for the tile's rows (masked at the last tile). */
    private static void store(Job j, float[] acc, int k, int tile, int t) {
        int r0 = tile * L;
        FloatVector v = FloatVector.fromArray(F, acc, k * L).mul(j.rescale[t]);
        int o = j.outOff + t * j.outStride + r0;
        int rows = j.w.rows();
        if (r0 + L <= rows) {
            v.intoArray(j.out, o);
        } else {
            VectorMask<Float> m = F.indexInRange(r0, rows);
            v.intoArray(j.out, o, m);
        }
    }

    /** One tile against tokens {@code t .. t+7} (x interleaved, as {@link #tiles2x8}): 8 accumulators. */
    private static void tile8(
            MemorySegment w,
            long base,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int x0,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F),
                a4 = FloatVector.zero(F),
                a5 = FloatVector.zero(F),
                a6 = FloatVector.zero(F),
                a7 = FloatVector.zero(F);
        long off = 0;
        long end = (long) steps * F.vectorByteSize();
        int c = x0;
        while (off < end) { // not a counted loop: see MatVec's STREAM_LOOPS
            IntVector v = IntVector.fromMemorySegment(I, w, base + off, LE);
            FloatVector e = v.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits1 = e.reinterpretAsInts();
                IntVector raised1 = bits1.add(1 << 23);
                e = e.blend(
                        raised1.reinterpretAsFloats()
                                .sub(raised1.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits1.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits1.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o = v.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits2 = o.reinterpretAsInts();
                IntVector raised2 = bits2.add(1 << 23);
                o = o.blend(
                        raised2.reinterpretAsFloats()
                                .sub(raised2.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits2.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits2.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            a0 = o.fma(FloatVector.broadcast(F, xs[c + 8]), e.fma(FloatVector.broadcast(F, xs[c]), a0));
            a1 = o.fma(FloatVector.broadcast(F, xs[c + 9]), e.fma(FloatVector.broadcast(F, xs[c + 1]), a1));
            a2 = o.fma(FloatVector.broadcast(F, xs[c + 10]), e.fma(FloatVector.broadcast(F, xs[c + 2]), a2));
            a3 = o.fma(FloatVector.broadcast(F, xs[c + 11]), e.fma(FloatVector.broadcast(F, xs[c + 3]), a3));
            a4 = o.fma(FloatVector.broadcast(F, xs[c + 12]), e.fma(FloatVector.broadcast(F, xs[c + 4]), a4));
            a5 = o.fma(FloatVector.broadcast(F, xs[c + 13]), e.fma(FloatVector.broadcast(F, xs[c + 5]), a5));
            a6 = o.fma(FloatVector.broadcast(F, xs[c + 14]), e.fma(FloatVector.broadcast(F, xs[c + 6]), a6));
            a7 = o.fma(FloatVector.broadcast(F, xs[c + 15]), e.fma(FloatVector.broadcast(F, xs[c + 7]), a7));
            c += 16;
            off += F.vectorByteSize();
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
        a4.intoArray(acc, 4 * L);
        a5.intoArray(acc, 5 * L);
        a6.intoArray(acc, 6 * L);
        a7.intoArray(acc, 7 * L);
    }

    /** One tile against tokens {@code t .. t+3}: 4 accumulators, each weight vector widened once for all. */
    private static void tile4(
            MemorySegment w,
            long base,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int x0,
            int stride,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long off = 0;
        long end = (long) steps * F.vectorByteSize();
        int c = x0;
        while (off < end) { // not a counted loop: see MatVec's STREAM_LOOPS
            IntVector v = IntVector.fromMemorySegment(I, w, base + off, LE);
            FloatVector e = v.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits3 = e.reinterpretAsInts();
                IntVector raised3 = bits3.add(1 << 23);
                e = e.blend(
                        raised3.reinterpretAsFloats()
                                .sub(raised3.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits3.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits3.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o = v.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits4 = o.reinterpretAsInts();
                IntVector raised4 = bits4.add(1 << 23);
                o = o.blend(
                        raised4.reinterpretAsFloats()
                                .sub(raised4.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits4.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits4.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            a0 = o.fma(FloatVector.broadcast(F, xs[c + 1]), e.fma(FloatVector.broadcast(F, xs[c]), a0));
            a1 = o.fma(
                    FloatVector.broadcast(F, xs[c + 1 * stride + 1]),
                    e.fma(FloatVector.broadcast(F, xs[c + 1 * stride]), a1));
            a2 = o.fma(
                    FloatVector.broadcast(F, xs[c + 2 * stride + 1]),
                    e.fma(FloatVector.broadcast(F, xs[c + 2 * stride]), a2));
            a3 = o.fma(
                    FloatVector.broadcast(F, xs[c + 3 * stride + 1]),
                    e.fma(FloatVector.broadcast(F, xs[c + 3 * stride]), a3));
            c += 2;
            off += F.vectorByteSize();
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }

    /** One tile against tokens {@code t .. t+0}: 1 accumulators, each weight vector widened once for all. */
    private static void tile1(
            MemorySegment w,
            long base,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int x0,
            int stride,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F);
        long off = 0;
        long end = (long) steps * F.vectorByteSize();
        int c = x0;
        while (off < end) { // not a counted loop: see MatVec's STREAM_LOOPS
            IntVector v = IntVector.fromMemorySegment(I, w, base + off, LE);
            FloatVector e = v.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits5 = e.reinterpretAsInts();
                IntVector raised5 = bits5.add(1 << 23);
                e = e.blend(
                        raised5.reinterpretAsFloats()
                                .sub(raised5.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits5.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits5.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o = v.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits6 = o.reinterpretAsInts();
                IntVector raised6 = bits6.add(1 << 23);
                o = o.blend(
                        raised6.reinterpretAsFloats()
                                .sub(raised6.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits6.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits6.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            a0 = o.fma(FloatVector.broadcast(F, xs[c + 1]), e.fma(FloatVector.broadcast(F, xs[c]), a0));
            c += 2;
            off += F.vectorByteSize();
        }
        a0.intoArray(acc, 0 * L);
    }

    /**
     * Two tiles against tokens {@code t .. t+7} (x interleaved from {@code x0}: column {@code c} of token {@code k}
     * at {@code x0 + 8c + k}): sixteen accumulators, each broadcast of x shared by both tiles. Each tile is read at
     * two places, its first and second half of column pairs in the same iteration: four streams from memory per
     * thread. With one stream per tile the hardware prefetcher kept too few lines in flight for a kernel this slow
     * to consume them (a 256 MiB matrix on one thread: 4.1 GB/s against 9.5 GB/s read in halves).
     */
    private static void tiles2x8(
            MemorySegment w,
            long base,
            long tileBytes,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int x0,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F),
                a4 = FloatVector.zero(F),
                a5 = FloatVector.zero(F),
                a6 = FloatVector.zero(F),
                a7 = FloatVector.zero(F),
                b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F),
                b4 = FloatVector.zero(F),
                b5 = FloatVector.zero(F),
                b6 = FloatVector.zero(F),
                b7 = FloatVector.zero(F);
        long second = base + tileBytes;
        long off = 0;
        long end = (long) steps * F.vectorByteSize();
        int c = x0;
        long half = end / 2; // steps is even: the second half of each tile's pairs starts here
        int xHalf = 8 * steps; // and its x here
        while (off < half) { // not a counted loop: see MatVec's STREAM_LOOPS
            {
                IntVector va = IntVector.fromMemorySegment(I, w, base + off, LE);
                IntVector vb = IntVector.fromMemorySegment(I, w, second + off, LE);
                FloatVector ea = va.lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, shift)
                        .and(evenMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && va.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits7 = ea.reinterpretAsInts();
                    IntVector raised7 = bits7.add(1 << 23);
                    ea = ea.blend(
                            raised7.reinterpretAsFloats()
                                    .sub(raised7.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits7.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits7.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector oa = va.lanewise(VectorOperators.ASHR, shift)
                        .and(oddMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && va.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits8 = oa.reinterpretAsInts();
                    IntVector raised8 = bits8.add(1 << 23);
                    oa = oa.blend(
                            raised8.reinterpretAsFloats()
                                    .sub(raised8.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits8.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits8.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector eb = vb.lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, shift)
                        .and(evenMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && vb.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits9 = eb.reinterpretAsInts();
                    IntVector raised9 = bits9.add(1 << 23);
                    eb = eb.blend(
                            raised9.reinterpretAsFloats()
                                    .sub(raised9.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits9.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits9.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector ob = vb.lanewise(VectorOperators.ASHR, shift)
                        .and(oddMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && vb.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits10 = ob.reinterpretAsInts();
                    IntVector raised10 = bits10.add(1 << 23);
                    ob = ob.blend(
                            raised10.reinterpretAsFloats()
                                    .sub(raised10.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits10.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits10.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector xe0 = FloatVector.broadcast(F, xs[c]);
                FloatVector xo0 = FloatVector.broadcast(F, xs[c + 8]);
                a0 = oa.fma(xo0, ea.fma(xe0, a0));
                b0 = ob.fma(xo0, eb.fma(xe0, b0));
                FloatVector xe1 = FloatVector.broadcast(F, xs[c + 1]);
                FloatVector xo1 = FloatVector.broadcast(F, xs[c + 9]);
                a1 = oa.fma(xo1, ea.fma(xe1, a1));
                b1 = ob.fma(xo1, eb.fma(xe1, b1));
                FloatVector xe2 = FloatVector.broadcast(F, xs[c + 2]);
                FloatVector xo2 = FloatVector.broadcast(F, xs[c + 10]);
                a2 = oa.fma(xo2, ea.fma(xe2, a2));
                b2 = ob.fma(xo2, eb.fma(xe2, b2));
                FloatVector xe3 = FloatVector.broadcast(F, xs[c + 3]);
                FloatVector xo3 = FloatVector.broadcast(F, xs[c + 11]);
                a3 = oa.fma(xo3, ea.fma(xe3, a3));
                b3 = ob.fma(xo3, eb.fma(xe3, b3));
                FloatVector xe4 = FloatVector.broadcast(F, xs[c + 4]);
                FloatVector xo4 = FloatVector.broadcast(F, xs[c + 12]);
                a4 = oa.fma(xo4, ea.fma(xe4, a4));
                b4 = ob.fma(xo4, eb.fma(xe4, b4));
                FloatVector xe5 = FloatVector.broadcast(F, xs[c + 5]);
                FloatVector xo5 = FloatVector.broadcast(F, xs[c + 13]);
                a5 = oa.fma(xo5, ea.fma(xe5, a5));
                b5 = ob.fma(xo5, eb.fma(xe5, b5));
                FloatVector xe6 = FloatVector.broadcast(F, xs[c + 6]);
                FloatVector xo6 = FloatVector.broadcast(F, xs[c + 14]);
                a6 = oa.fma(xo6, ea.fma(xe6, a6));
                b6 = ob.fma(xo6, eb.fma(xe6, b6));
                FloatVector xe7 = FloatVector.broadcast(F, xs[c + 7]);
                FloatVector xo7 = FloatVector.broadcast(F, xs[c + 15]);
                a7 = oa.fma(xo7, ea.fma(xe7, a7));
                b7 = ob.fma(xo7, eb.fma(xe7, b7));
            }
            {
                IntVector va = IntVector.fromMemorySegment(I, w, base + half + off, LE);
                IntVector vb = IntVector.fromMemorySegment(I, w, second + half + off, LE);
                FloatVector ea = va.lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, shift)
                        .and(evenMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && va.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits7 = ea.reinterpretAsInts();
                    IntVector raised7 = bits7.add(1 << 23);
                    ea = ea.blend(
                            raised7.reinterpretAsFloats()
                                    .sub(raised7.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits7.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits7.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector oa = va.lanewise(VectorOperators.ASHR, shift)
                        .and(oddMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && va.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits8 = oa.reinterpretAsInts();
                    IntVector raised8 = bits8.add(1 << 23);
                    oa = oa.blend(
                            raised8.reinterpretAsFloats()
                                    .sub(raised8.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits8.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits8.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector eb = vb.lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, shift)
                        .and(evenMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && vb.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits9 = eb.reinterpretAsInts();
                    IntVector raised9 = bits9.add(1 << 23);
                    eb = eb.blend(
                            raised9.reinterpretAsFloats()
                                    .sub(raised9.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits9.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits9.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector ob = vb.lanewise(VectorOperators.ASHR, shift)
                        .and(oddMask)
                        .add(rebias)
                        .reinterpretAsFloats();
                if (rebias != 0
                        && vb.and(F16Fields.PAIR_EXPONENTS)
                                .reinterpretAsShorts()
                                .compare(VectorOperators.EQ, (short) 0)
                                .anyTrue()) {
                    IntVector bits10 = ob.reinterpretAsInts();
                    IntVector raised10 = bits10.add(1 << 23);
                    ob = ob.blend(
                            raised10.reinterpretAsFloats()
                                    .sub(raised10.and(0xFF800000).reinterpretAsFloats())
                                    .reinterpretAsInts()
                                    .or(bits10.and(0x80000000))
                                    .reinterpretAsFloats(),
                            bits10.and(0x7F800000)
                                    .compare(VectorOperators.EQ, rebias)
                                    .cast(F));
                }
                FloatVector xe0 = FloatVector.broadcast(F, xs[xHalf + c]);
                FloatVector xo0 = FloatVector.broadcast(F, xs[xHalf + c + 8]);
                a0 = oa.fma(xo0, ea.fma(xe0, a0));
                b0 = ob.fma(xo0, eb.fma(xe0, b0));
                FloatVector xe1 = FloatVector.broadcast(F, xs[xHalf + c + 1]);
                FloatVector xo1 = FloatVector.broadcast(F, xs[xHalf + c + 9]);
                a1 = oa.fma(xo1, ea.fma(xe1, a1));
                b1 = ob.fma(xo1, eb.fma(xe1, b1));
                FloatVector xe2 = FloatVector.broadcast(F, xs[xHalf + c + 2]);
                FloatVector xo2 = FloatVector.broadcast(F, xs[xHalf + c + 10]);
                a2 = oa.fma(xo2, ea.fma(xe2, a2));
                b2 = ob.fma(xo2, eb.fma(xe2, b2));
                FloatVector xe3 = FloatVector.broadcast(F, xs[xHalf + c + 3]);
                FloatVector xo3 = FloatVector.broadcast(F, xs[xHalf + c + 11]);
                a3 = oa.fma(xo3, ea.fma(xe3, a3));
                b3 = ob.fma(xo3, eb.fma(xe3, b3));
                FloatVector xe4 = FloatVector.broadcast(F, xs[xHalf + c + 4]);
                FloatVector xo4 = FloatVector.broadcast(F, xs[xHalf + c + 12]);
                a4 = oa.fma(xo4, ea.fma(xe4, a4));
                b4 = ob.fma(xo4, eb.fma(xe4, b4));
                FloatVector xe5 = FloatVector.broadcast(F, xs[xHalf + c + 5]);
                FloatVector xo5 = FloatVector.broadcast(F, xs[xHalf + c + 13]);
                a5 = oa.fma(xo5, ea.fma(xe5, a5));
                b5 = ob.fma(xo5, eb.fma(xe5, b5));
                FloatVector xe6 = FloatVector.broadcast(F, xs[xHalf + c + 6]);
                FloatVector xo6 = FloatVector.broadcast(F, xs[xHalf + c + 14]);
                a6 = oa.fma(xo6, ea.fma(xe6, a6));
                b6 = ob.fma(xo6, eb.fma(xe6, b6));
                FloatVector xe7 = FloatVector.broadcast(F, xs[xHalf + c + 7]);
                FloatVector xo7 = FloatVector.broadcast(F, xs[xHalf + c + 15]);
                a7 = oa.fma(xo7, ea.fma(xe7, a7));
                b7 = ob.fma(xo7, eb.fma(xe7, b7));
            }
            c += 16;
            off += F.vectorByteSize();
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
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

    /** Four tiles against one token (decode): four independent streams and accumulators. */
    private static void tiles4(
            MemorySegment w,
            long base,
            long gap,
            int steps,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int x0,
            float[] acc) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long b1 = base + gap, b2 = b1 + gap, b3 = b2 + gap;
        long off = 0;
        long end = (long) steps * F.vectorByteSize();
        int c = x0;
        while (off < end) { // not a counted loop: see MatVec's STREAM_LOOPS
            FloatVector xe = FloatVector.broadcast(F, xs[c]);
            FloatVector xo = FloatVector.broadcast(F, xs[c + 1]);
            IntVector v0 = IntVector.fromMemorySegment(I, w, base + off, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, w, b1 + off, LE);
            IntVector v2 = IntVector.fromMemorySegment(I, w, b2 + off, LE);
            IntVector v3 = IntVector.fromMemorySegment(I, w, b3 + off, LE);
            FloatVector e0 = v0.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v0.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits11 = e0.reinterpretAsInts();
                IntVector raised11 = bits11.add(1 << 23);
                e0 = e0.blend(
                        raised11.reinterpretAsFloats()
                                .sub(raised11.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits11.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits11.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o0 = v0.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v0.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits12 = o0.reinterpretAsInts();
                IntVector raised12 = bits12.add(1 << 23);
                o0 = o0.blend(
                        raised12.reinterpretAsFloats()
                                .sub(raised12.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits12.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits12.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector e1 = v1.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v1.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits13 = e1.reinterpretAsInts();
                IntVector raised13 = bits13.add(1 << 23);
                e1 = e1.blend(
                        raised13.reinterpretAsFloats()
                                .sub(raised13.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits13.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits13.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o1 = v1.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v1.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits14 = o1.reinterpretAsInts();
                IntVector raised14 = bits14.add(1 << 23);
                o1 = o1.blend(
                        raised14.reinterpretAsFloats()
                                .sub(raised14.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits14.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits14.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector e2 = v2.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v2.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits15 = e2.reinterpretAsInts();
                IntVector raised15 = bits15.add(1 << 23);
                e2 = e2.blend(
                        raised15.reinterpretAsFloats()
                                .sub(raised15.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits15.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits15.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o2 = v2.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v2.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits16 = o2.reinterpretAsInts();
                IntVector raised16 = bits16.add(1 << 23);
                o2 = o2.blend(
                        raised16.reinterpretAsFloats()
                                .sub(raised16.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits16.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits16.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector e3 = v3.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v3.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits17 = e3.reinterpretAsInts();
                IntVector raised17 = bits17.add(1 << 23);
                e3 = e3.blend(
                        raised17.reinterpretAsFloats()
                                .sub(raised17.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits17.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits17.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector o3 = v3.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v3.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits18 = o3.reinterpretAsInts();
                IntVector raised18 = bits18.add(1 << 23);
                o3 = o3.blend(
                        raised18.reinterpretAsFloats()
                                .sub(raised18.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits18.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits18.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            a0 = o0.fma(xo, e0.fma(xe, a0));
            a1 = o1.fma(xo, e1.fma(xe, a1));
            a2 = o2.fma(xo, e2.fma(xe, a2));
            a3 = o3.fma(xo, e3.fma(xe, a3));
            c += 2;
            off += F.vectorByteSize();
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
    }
}
