package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix × vector, the decode path: {@code out[r] = Σ_c W[r, c] · x[c]} with W read in place.
 *
 * <p>Decode is bound by memory bandwidth, so each kernel streams W once and keeps x in cache. The BF16
 * kernels read weights as 32-bit pairs and split them with a shift (even element) and a mask (odd element)
 * against x pre-split into its even and odd halves: no widening shuffles in the inner loop. The F16 kernel
 * does the same with {@link F16Fields}' exponent add and its patch for zero and subnormal halves.
 *
 * <p>How many streams a thread reads at once depends on the CPU, so it is keyed on the vector width
 * ({@link #STREAMS}). With AVX-512, F32 and BF16 go one row at a time: each thread reads its share of W as one
 * sequential stream (on Zen 4 four adjacent rows per pass streamed worse, four streams 4 KiB apart). With AVX2 one
 * stream per core leaves bandwidth unused, and four rows a quarter of the thread's range apart, each a sequential
 * stream of its own, read faster (benchmarks/README.md, "Kernel structure: before/after", has the measurements).
 * F16 goes four rows a quarter of the thread's range apart on every width ({@link #dotF16x4}).
 */
final class MatVec {

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    private MatVec() {}

    /** One call, reused per calling thread so a call allocates nothing. */
    private static final class Job extends ProductJob<Matrix> {
        /** x as {@link #split} leaves it. */
        MemorySegment xs = MemorySegment.NULL;
        /** What takes F16 rows' sums against {@link #xs} back to their scale: 2^e from {@link #split}. */
        float rescale = 1f;

        @Override
        int prepare() {
            if (w.format() == Format.BF16 || w.format() == Format.F16) {
                int pairs = w.cols() / 2;
                if (xs.byteSize() < splitBytes(pairs)) {
                    xs = allocateSplit(pairs);
                }
                int e = split(w.format(), x, xOff, pairs, xs);
                rescale = Math.scalb(F16Fields.SCALED_SUMS, e);
            }
            return (w.rows() + ROWS_PER_CLAIM - 1) / ROWS_PER_CLAIM;
        }

        /** Matrices smaller than {@link #INLINE_BYTES} run on the calling thread alone. */
        @Override
        ThreadPool pool(ThreadPool pool) {
            return w.data().byteSize() < INLINE_BYTES ? ThreadPool.INLINE : pool;
        }

        /** Runs blocks of {@link #ROWS_PER_CLAIM} rows. */
        @Override
        public void run(int from, int to) {
            rows(w, x, xOff, xs, rescale, out, outOff, from * ROWS_PER_CLAIM, Math.min(to * ROWS_PER_CLAIM, w.rows()));
        }
    }

    /**
     * Matrices smaller than this run on the calling thread alone: waking the pool costs more than the
     * few microseconds of streaming they take (the small x_proj and dt_proj of a decode step).
     */
    static final long INLINE_BYTES = 192 << 10;

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** {@code out[outOff + r] = W[r] · x[xOff ..]} for every row, split across the pool's threads. */
    static void multiply(Matrix w, float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        JOBS.get().start(w, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /*
     * STREAM_LOOPS: the streaming loops are written as a while over a long byte offset so that C2 does not see
     * a counted int loop and unroll it. Unrolled, they stream far worse, from DRAM and from L2 alike (the while
     * loop reaches the plain-sum bandwidth; -XX:LoopUnrollLimit=1 gives the same gain).
     */

    /** Rows per unit the pool hands out (a claim is at least this much work). */
    static final int ROWS_PER_CLAIM = 4;

    /**
     * Whether each thread streams four rows at once, a quarter of its claimed range apart: faster with AVX2,
     * mapped and packed alike. With AVX-512 four adjacent rows stream worse than one (see the class comment);
     * far-apart rows are not measured there, so that width keeps one row at a time.
     */
    static final boolean STREAMS = F.vectorBitSize() < 512;

    /**
     * Single-threaded over rows {@code [from, to)}. For BF16 and F16 {@code xs} must hold x as {@link #split} left
     * it, and for F16 {@code rescale} be 2^e·{@link F16Fields#SCALED_SUMS} for the e it returned.
     */
    static void rows(
            Matrix w, float[] x, int xOff, MemorySegment xs, float rescale, float[] out, int outOff, int from, int to) {
        MemorySegment data = w.data();
        long rb = w.rowBytes();
        int n = w.cols();
        float[] lanes = Lanes.scratch();
        int r = from;
        // Four row streams a quarter of the range apart (see STREAMS); the rows left over one at a time.
        int q = STREAMS ? (to - from) / 4 : 0;
        switch (w.format()) {
            case F32 -> {
                for (int i = 0; i < q; i++) {
                    dotF32x4(data, (from + i) * rb, q * rb, x, xOff, n, out, outOff + from + i, q, lanes);
                }
                for (r += 4 * q; r < to; r++) {
                    out[outOff + r] = dotF32(data, r * rb, x, xOff, n, lanes);
                }
            }
            case BF16 -> {
                for (int i = 0; i < q; i++) {
                    dotBF16x4(data, (from + i) * rb, q * rb, x, xOff, xs, n, out, outOff + from + i, q, lanes);
                }
                for (r += 4 * q; r < to; r++) {
                    out[outOff + r] = dotBF16(data, r * rb, x, xOff, xs, n, lanes);
                }
            }
            case F16 -> {
                // Four rows a quarter of the range apart on every vector width (see dotF16x4).
                int passes = (to - from) / 4;
                for (int i = 0; i < passes; i++) {
                    dotF16x4(
                            data,
                            (from + i) * rb,
                            passes * rb,
                            x,
                            xOff,
                            xs,
                            rescale,
                            n,
                            out,
                            outOff + from + i,
                            passes);
                }
                float[] halves = HALVES.get();
                for (r += 4 * passes; r < to; r++) {
                    out[outOff + r] = dotF16(data, r * rb, x, xOff, n, halves, lanes);
                }
            }
        }
    }

    /**
     * x split into its even and odd elements, chunk by chunk: for each vector's worth of column pairs c, the
     * floats {@code [2cV, 2cV+V)} of {@code split} hold x[2p] and {@code [2cV+V, 2cV+2V)} hold x[2p+1], p = cV +
     * lane (V = lanes per vector). One block of memory read at one running offset beside the weights: the
     * kernels' loops then keep every address in a register (separate even and odd arrays cost reloads and
     * bounds checks in every pass).
     *
     * <p>{@code split} is off-heap ({@link #allocateSplit}), like the weights: the Vector API's segment loads
     * are compiled for the segment kinds they have seen, and a heap segment beside mapped and off-heap ones
     * makes them megamorphic and halves decode (a bandwidth probe in the same JVM is enough). Pairs past the
     * last whole chunk are not stored; the kernels take those columns from x itself.
     *
     * <p>For F16 weights (the batch kernels, see {@link F16Fields}) the split x is also scaled by 2^(112 - e), and
     * e is returned: those kernels then need no per-weight rebias multiply and multiply each row's sum by 2^e. e
     * follows x's largest exponent (over all of x) so that x·2^(112-e) stays below 2^101 (no overflow in the
     * products or sums) and as far above the float underflow as it can.
     */
    static int split(Format format, float[] x, int xOff, int pairs, MemorySegment split) {
        boolean f16 = format == Format.F16;
        int e = f16 ? scaleExponent(x, xOff, 2 * pairs) : 0;
        float up = f16 ? Math.scalb(1f, 112 - e) : 1f;
        int step = F.length();
        for (int p = 0; p <= pairs - step; p += step) {
            FloatVector a = FloatVector.fromArray(F, x, xOff + 2 * p);
            FloatVector b = FloatVector.fromArray(F, x, xOff + 2 * p + step);
            long at = 2L * p * Float.BYTES;
            a.rearrange(EVEN, b).mul(up).intoMemorySegment(split, at, LE);
            a.rearrange(ODD, b).mul(up).intoMemorySegment(split, at + F.vectorByteSize(), LE);
        }
        return e;
    }

    /** Bytes {@link #split} writes for {@code pairs} column pairs. */
    static long splitBytes(int pairs) {
        return 2L * F.loopBound(pairs) * Float.BYTES;
    }

    /** Off-heap room for {@link #split}'s output for {@code pairs} column pairs, freed when unreachable. */
    static MemorySegment allocateSplit(int pairs) {
        return Arena.ofAuto().allocate(Math.max(F.vectorByteSize(), splitBytes(pairs)), 64);
    }

    /** The e of {@link #split} for x of largest magnitude {@code max}. */
    static int exponentFor(float max) {
        // NaN or infinite x makes every product non-finite whatever the scale; keep the scale neutral.
        return Float.isFinite(max) ? Math.clamp(Math.getExponent(max) + 12, 0, 127) : 112;
    }

    /** The e of {@link #split} for {@code x[off .. off+n)}. */
    static int scaleExponent(float[] x, int off, int n) {
        FloatVector maxv = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            maxv = maxv.max(FloatVector.fromArray(F, x, off + i).abs());
        }
        float max = maxv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, Math.abs(x[off + i]));
        }
        return exponentFor(max);
    }

    /** {@code a[off .. off+n) *= f}. */
    static void scale(float[] a, int off, int n, float f) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, a, off + i).mul(f).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= f;
        }
    }

    /** Lane i takes element 2i (or 2i+1) of the two vectors {@code a, b} laid end to end: a de-interleave. */
    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(F, i -> 2 * i);

    private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(F, i -> 2 * i + 1);

    /** One F32 row against x: two accumulators, so two FMA chains run at once. */
    static float dotF32(MemorySegment w, long base, float[] x, int xOff, int n, float[] lanes) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int step = F.length();
        int i = 0;
        long off = 0;
        long end = (long) (n / (2 * step)) * 2 * F.vectorByteSize();
        while (off < end) { // not a counted loop: see STREAM_LOOPS
            acc0 = FloatVector.fromMemorySegment(F, w, base + off, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, w, base + off + F.vectorByteSize(), LE)
                    .fma(FloatVector.fromArray(F, x, xOff + i + step), acc1);
            i += 2 * step;
            off += 2L * F.vectorByteSize();
        }
        for (; i <= n - step; i += step) {
            acc0 = FloatVector.fromMemorySegment(F, w, base + (long) i * 4, LE)
                    .fma(FloatVector.fromArray(F, x, xOff + i), acc0);
        }
        acc0.add(acc1).intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += w.get(Convert.F32, base + (long) i * 4) * x[xOff + i];
        }
        return sum;
    }

    /** One BF16 row against x split by {@link #split} (in {@code xs}): even and odd elements in two accumulators. */
    static float dotBF16(MemorySegment w, long base, float[] x, int xOff, MemorySegment xs, int n, float[] lanes) {
        FloatVector accEven = FloatVector.zero(F);
        FloatVector accOdd = FloatVector.zero(F);
        long k = 0;
        long end = (long) I.loopBound(n / 2) * 4;
        while (k < end) { // not a counted loop: see STREAM_LOOPS
            IntVector two = IntVector.fromMemorySegment(I, w, base + k, LE);
            accEven = two.lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats()
                    .fma(FloatVector.fromMemorySegment(F, xs, 2 * k, LE), accEven);
            accOdd = two.and(0xFFFF0000)
                    .reinterpretAsFloats()
                    .fma(FloatVector.fromMemorySegment(F, xs, 2 * k + F.vectorByteSize(), LE), accOdd);
            k += I.vectorByteSize();
        }
        accEven.add(accOdd).intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (int i = (int) (k / 2); i < n; i++) {
            sum += Convert.bf16ToFloat(w.get(Convert.I16, base + (long) i * 2)) * x[xOff + i];
        }
        return sum;
    }

    /**
     * Halves widened per chunk of a row, before the FMAs read them: {@code Float.float16ToFloat} over a plain
     * loop is compiled by C2's auto-vectorizer to the CPU's half-to-float instruction ({@code vcvtph2ps}), which
     * the Vector API does not expose. That instruction gives every half, subnormals included, as the exact
     * normal float, so the FMAs never see a denormal operand (Intel cores multiply those through a microcode
     * assist, see {@link F16Fields}), and it costs one instruction per vector where widening by bit operations
     * costs three. The chunk stays in L1 between the two loops.
     */
    static final int HALF_CHUNK = 512;

    /** One chunk of widened halves, per thread. */
    static final ThreadLocal<float[]> HALVES = ThreadLocal.withInitial(() -> new float[HALF_CHUNK]);

    /** {@code halves[at ..]} = the {@code count} halves at {@code w[base ..]}, as floats (see {@link #HALF_CHUNK}). */
    static void widenHalves(MemorySegment w, long base, float[] halves, int at, int count) {
        for (int i = 0; i < count; i++) {
            halves[at + i] = Float.float16ToFloat(w.get(Convert.I16, base + 2L * i));
        }
    }

    /** One F16 row against x, widened chunk by chunk into {@code halves} (see {@link #HALF_CHUNK}). */
    static float dotF16(MemorySegment w, long base, float[] x, int xOff, int n, float[] halves, float[] lanes) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int step = F.length();
        float tail = 0f;
        for (int c = 0; c < n; c += HALF_CHUNK) {
            int m = Math.min(HALF_CHUNK, n - c);
            widenHalves(w, base + 2L * c, halves, 0, m);
            int i = 0;
            for (; i <= m - 2 * step; i += 2 * step) {
                acc0 = FloatVector.fromArray(F, halves, i).fma(FloatVector.fromArray(F, x, xOff + c + i), acc0);
                acc1 = FloatVector.fromArray(F, halves, i + step)
                        .fma(FloatVector.fromArray(F, x, xOff + c + i + step), acc1);
            }
            for (; i < m; i++) {
                tail += halves[i] * x[xOff + c + i];
            }
        }
        acc0.add(acc1).intoArray(lanes, 0);
        return Lanes.sum(lanes) + tail;
    }

    /*
     * The four-row kernels below are each one-row kernel written out four times (rows base, base+gap, base+2gap,
     * base+3gap, outputs out[o], out[o+q], ...): a helper taking vectors would box them (see Lanes).
     */

    /** Four F32 rows {@code gap} bytes apart against x. */
    static void dotF32x4(
            MemorySegment w,
            long base,
            long gap,
            float[] x,
            int xOff,
            int n,
            float[] out,
            int o,
            int q,
            float[] lanes) {
        long b1 = base + gap, b2 = b1 + gap, b3 = b2 + gap;
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        int i = 0;
        long off = 0;
        long end = (long) F.loopBound(n) * 4;
        while (off < end) { // not a counted loop: see STREAM_LOOPS
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromMemorySegment(F, w, base + off, LE).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(F, w, b1 + off, LE).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(F, w, b2 + off, LE).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(F, w, b3 + off, LE).fma(xv, a3);
            i += F.length();
            off += F.vectorByteSize();
        }
        a0.intoArray(lanes, 0);
        out[o] = Lanes.sum(lanes) + tailF32(w, base, x, xOff, i, n);
        a1.intoArray(lanes, 0);
        out[o + q] = Lanes.sum(lanes) + tailF32(w, b1, x, xOff, i, n);
        a2.intoArray(lanes, 0);
        out[o + 2 * q] = Lanes.sum(lanes) + tailF32(w, b2, x, xOff, i, n);
        a3.intoArray(lanes, 0);
        out[o + 3 * q] = Lanes.sum(lanes) + tailF32(w, b3, x, xOff, i, n);
    }

    private static float tailF32(MemorySegment w, long base, float[] x, int xOff, int from, int n) {
        float sum = 0f;
        for (int i = from; i < n; i++) {
            sum += w.get(Convert.F32, base + (long) i * 4) * x[xOff + i];
        }
        return sum;
    }

    /** Four BF16 rows {@code gap} bytes apart against x split by {@link #split} (in {@code xs}). */
    static void dotBF16x4(
            MemorySegment w,
            long base,
            long gap,
            float[] x,
            int xOff,
            MemorySegment xs,
            int n,
            float[] out,
            int o,
            int q,
            float[] lanes) {
        FloatVector e0 = FloatVector.zero(F),
                e1 = FloatVector.zero(F),
                e2 = FloatVector.zero(F),
                e3 = FloatVector.zero(F);
        FloatVector o0 = FloatVector.zero(F),
                o1 = FloatVector.zero(F),
                o2 = FloatVector.zero(F),
                o3 = FloatVector.zero(F);
        long gap2 = 2 * gap, gap3 = 3 * gap;
        long k = 0; // bytes into each row; x's split floats are 2k bytes in
        long end = (long) I.loopBound(n / 2) * 4;
        while (k < end) { // not a counted loop: see STREAM_LOOPS
            FloatVector xe = FloatVector.fromMemorySegment(F, xs, 2 * k, LE);
            FloatVector xo = FloatVector.fromMemorySegment(F, xs, 2 * k + F.vectorByteSize(), LE);
            long at = base + k;
            IntVector v = IntVector.fromMemorySegment(I, w, at, LE);
            e0 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e0);
            o0 = v.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o0);
            v = IntVector.fromMemorySegment(I, w, at + gap, LE);
            e1 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e1);
            o1 = v.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o1);
            v = IntVector.fromMemorySegment(I, w, at + gap2, LE);
            e2 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e2);
            o2 = v.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o2);
            v = IntVector.fromMemorySegment(I, w, at + gap3, LE);
            e3 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e3);
            o3 = v.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o3);
            k += I.vectorByteSize();
        }
        int c = (int) (k / 2);
        e0.add(o0).intoArray(lanes, 0);
        out[o] = Lanes.sum(lanes) + tailBF16(w, base, x, xOff, c, n);
        e1.add(o1).intoArray(lanes, 0);
        out[o + q] = Lanes.sum(lanes) + tailBF16(w, base + gap, x, xOff, c, n);
        e2.add(o2).intoArray(lanes, 0);
        out[o + 2 * q] = Lanes.sum(lanes) + tailBF16(w, base + gap2, x, xOff, c, n);
        e3.add(o3).intoArray(lanes, 0);
        out[o + 3 * q] = Lanes.sum(lanes) + tailBF16(w, base + gap3, x, xOff, c, n);
    }

    /**
     * Four F16 rows {@code gap} bytes apart against x split and scaled by {@link #split} (in {@code xs}), sums times
     * {@code rescale}. The pairs are widened in registers as {@link F16Fields} describes, with its exponent add and
     * its patch for the rare vector holding a zero or subnormal half: one pass over the rows in a while loop (see
     * STREAM_LOOPS). {@link #rows} puts the four rows a quarter of the thread's range apart, so each stream runs on
     * into the next row. On a Sapphire Rapids Xeon (AVX-512), two threads over a 256 MiB mapped matrix, that read
     * 10–14 GB/s with rows of 768 and 1536 halves where one row at a time widened chunk by chunk ({@link #dotF16})
     * read 8–13, and 12–17 GB/s with rows of 4096 halves, as four adjacent rows did.
     */
    static void dotF16x4(
            MemorySegment w,
            long base,
            long gap,
            float[] x,
            int xOff,
            MemorySegment xs,
            float rescale,
            int n,
            float[] out,
            int o,
            int q) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        long b1 = base + gap, b2 = b1 + gap, b3 = b2 + gap;
        int rebias = F16Fields.SCALED;
        long k = 0; // bytes into each row; x's split floats are 2k bytes in
        long end = (long) I.loopBound(n / 2) * 4;
        while (k < end) { // not a counted loop: see STREAM_LOOPS
            FloatVector xe = FloatVector.fromMemorySegment(F, xs, 2 * k, LE);
            FloatVector xo = FloatVector.fromMemorySegment(F, xs, 2 * k + F.vectorByteSize(), LE);
            IntVector v0 = IntVector.fromMemorySegment(I, w, base + k, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, w, b1 + k, LE);
            IntVector v2 = IntVector.fromMemorySegment(I, w, b2 + k, LE);
            IntVector v3 = IntVector.fromMemorySegment(I, w, b3 + k, LE);
            FloatVector e0 = v0.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v0.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = e0.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                e0 = e0.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a0 = e0.fma(xe, a0);
            FloatVector o0 = v0.lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v0.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = o0.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                o0 = o0.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a0 = o0.fma(xo, a0);
            FloatVector e1 = v1.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v1.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = e1.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                e1 = e1.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a1 = e1.fma(xe, a1);
            FloatVector o1 = v1.lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v1.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = o1.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                o1 = o1.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a1 = o1.fma(xo, a1);
            FloatVector e2 = v2.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v2.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = e2.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                e2 = e2.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a2 = e2.fma(xe, a2);
            FloatVector o2 = v2.lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v2.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = o2.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                o2 = o2.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a2 = o2.fma(xo, a2);
            FloatVector e3 = v3.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v3.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = e3.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                e3 = e3.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a3 = e3.fma(xe, a3);
            FloatVector o3 = v3.lanewise(VectorOperators.ASHR, 3)
                    .and(F16Fields.FIELDS)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && v3.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits = o3.reinterpretAsInts();
                IntVector raised = bits.add(1 << 23);
                o3 = o3.blend(
                        raised.reinterpretAsFloats()
                                .sub(raised.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits.and(0x7F800000).compare(VectorOperators.EQ, rebias).cast(F));
            }
            a3 = o3.fma(xo, a3);
            k += I.vectorByteSize();
        }
        int c = (int) (k / 2);
        float[] lanes = Lanes.scratch();
        a0.intoArray(lanes, 0);
        out[o] = Lanes.sum(lanes) * rescale + tailF16(w, base, x, xOff, c, n);
        a1.intoArray(lanes, 0);
        out[o + q] = Lanes.sum(lanes) * rescale + tailF16(w, b1, x, xOff, c, n);
        a2.intoArray(lanes, 0);
        out[o + 2 * q] = Lanes.sum(lanes) * rescale + tailF16(w, b2, x, xOff, c, n);
        a3.intoArray(lanes, 0);
        out[o + 3 * q] = Lanes.sum(lanes) * rescale + tailF16(w, b3, x, xOff, c, n);
    }

    /** The columns {@code [from, n)} of one F16 row past the vector loop, in scalar (against unsplit x). */
    private static float tailF16(MemorySegment w, long base, float[] x, int xOff, int from, int n) {
        float sum = 0f;
        for (int i = from; i < n; i++) {
            sum += Float.float16ToFloat(w.get(Convert.I16, base + (long) i * 2)) * x[xOff + i];
        }
        return sum;
    }

    /** The columns {@code [from, n)} of one BF16 row past the vector loop, in scalar (against unsplit x). */
    private static float tailBF16(MemorySegment w, long base, float[] x, int xOff, int from, int n) {
        float sum = 0f;
        for (int i = from; i < n; i++) {
            short h = w.get(Convert.I16, base + (long) i * 2);
            sum += Convert.bf16ToFloat(h) * x[xOff + i];
        }
        return sum;
    }
}
