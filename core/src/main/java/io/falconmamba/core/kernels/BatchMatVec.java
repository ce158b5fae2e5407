package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix × a few vectors over a {@link Matrix}, the batch-decode and short-chunk path:
 * {@code out[t, r] = Σ_c W[r, c] · X[t, c]} for fewer than {@link #SMALL_BATCH} tokens.
 *
 * <p>Too few tokens to pay for a transposed tile, so W is streamed in place as {@link MatVec} streams it, rows
 * widened in registers (16-bit pairs split by shift and mask against x pre-split into even and odd halves) and
 * dotted against several tokens at once. F16 and BF16 rows go two at a time against eight tokens, then against
 * a group of four if four or more are left; each group's split x is packed side by side per column chunk (one
 * array at one running offset: few general registers, and no x streams 4 KiB apart crowding the rows' cache
 * sets). F32 rows go four at a time against four tokens. Tokens left over go one by one. A group's rows stay
 * in cache for its next tokens, so W is read from memory once per call whatever the token count.
 */
final class BatchMatVec {

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Rows per group (one F32 pass, or two packed passes of two rows). */
    static final int ROWS = 4;
    /** Tokens of the F32 pass and of the short packed pass. */
    static final int TOKENS = 4;
    /** Tokens of the wide packed pass, which takes the group's rows two at a time. */
    static final int WIDE = 8;
    /** Floats of one token's split x per column chunk: {@code V} even then {@code V} odd. */
    private static final int V = F.length();

    /**
     * Below this many tokens (batch decode, short prefill chunks) a transposed tile of {@link MatMul} is not
     * reused enough to pay for itself, and these kernels stream the rows in place against every token instead.
     * Where the two cross depends on the vector width: later with AVX-512 than with AVX2 (benchmarks/README.md
     * has the measurements).
     */
    static final int SMALL_BATCH = F.vectorBitSize() >= 512 ? 96 : 64;

    private BatchMatVec() {}

    /** One call and x split per token, reused per calling thread. */
    private static final class Job extends ProductJob<Matrix> {
        /** Per token, x as {@link MatVec#split} leaves it. */
        MemorySegment[] xs = new MemorySegment[0];
        /** Per token, 2^e from {@link MatVec#split} (F16 only). */
        float[] rescale = new float[0];
        /** Split x of the tokens in groups, see {@link #pack}. */
        float[] packed = new float[0];
        /** Chunks of {@code V} column pairs packed per token. */
        int chunks;

        @Override
        public void run(int from, int to) {
            rows(this, from * ROWS, Math.min(to * ROWS, w.rows()));
        }

        @Override
        int prepare() {
            int units = (w.rows() + ROWS - 1) / ROWS;
            if (xs.length < tokens) {
                xs = new MemorySegment[tokens];
                rescale = new float[tokens];
            }
            if (w.format() == Format.F32) {
                return units;
            }
            int pairs = w.cols() / 2;
            for (int t = 0; t < tokens; t++) {
                if (xs[t] == null || xs[t].byteSize() < MatVec.splitBytes(pairs)) {
                    xs[t] = MatVec.allocateSplit(pairs);
                }
                int e = MatVec.split(w.format(), x, xOff + t * xStride, pairs, xs[t]);
                rescale[t] = Math.scalb(1f, e);
            }
            pack(pairs);
            return units;
        }

        /**
         * The split x of each group of eight tokens, then of one group of four if four or more are left, token
         * halves side by side per chunk of {@code V} column pairs: for a group of width {@code m} starting at
         * token {@code t0}, {@code packed[packedAt(t0) + c*2mV + k*2V .. + 2V)} is token t0+k's split chunk c
         * ({@code V} even elements, then {@code V} odd). Chunks past the vector loop's bound are not packed.
         */
        private void pack(int pairs) {
            chunks = I.loopBound(pairs) / V;
            int packedTokens = tokens / WIDE * WIDE + (tokens % WIDE >= TOKENS ? TOKENS : 0);
            if (packed.length < packedTokens * chunks * 2 * V) {
                packed = new float[packedTokens * chunks * 2 * V];
            }
            int t0 = 0;
            for (; t0 + WIDE <= tokens; t0 += WIDE) {
                pack(t0, WIDE);
            }
            if (t0 + TOKENS <= tokens) {
                pack(t0, TOKENS);
            }
        }

        private void pack(int t0, int width) {
            for (int k = 0; k < width; k++) {
                MemorySegment split = xs[t0 + k];
                int at = packedAt(t0) + k * 2 * V;
                for (int c = 0; c < chunks; c++, at += width * 2 * V) {
                    MemorySegment.copy(split, Convert.F32, (long) c * 2 * V * Float.BYTES, packed, at, 2 * V);
                }
            }
        }

        /** Where the group starting at token {@code t0} (a multiple of eight, or the four after them) begins. */
        int packedAt(int t0) {
            return t0 * chunks * 2 * V;
        }
    }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    /** Per thread: the sums of one pass (sixteen at most: two rows by eight tokens, or four by four). */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[ROWS * TOKENS]);
    /** Per thread: the sixteen accumulators' lanes (the first vector's worth also serves MatVec's one-row kernels). */
    private static final ThreadLocal<float[]> LANES =
            ThreadLocal.withInitial(() -> new float[ROWS * TOKENS * F.length()]);

    /**
     * {@code out[outOff + t*outStride + r] = W[r] · x[xOff + t*xStride ..]} for {@code t < tokens} and every row,
     * split by groups of four rows across the pool's threads.
     */
    static void multiply(
            Matrix w,
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

    /** Single-threaded over rows {@code [from, to)}. */
    private static void rows(Job j, int from, int to) {
        Matrix w = j.w;
        MemorySegment data = w.data();
        long rb = w.rowBytes();
        int n = w.cols();
        float[] sums = SUMS.get();
        float[] lanes = LANES.get();
        // A group's four rows are adjacent, or on AVX2 a quarter of the range apart (see MatVec.STREAMS).
        int groups = (to - from) / ROWS;
        int step = MatVec.STREAMS ? groups : 1;
        for (int g = 0; g < groups; g++) {
            int r = from + (MatVec.STREAMS ? g : g * ROWS);
            int t = 0;
            if (w.format() == Format.F32) {
                for (; t + TOKENS <= j.tokens; t += TOKENS) {
                    int p = dot4x4F32(data, r * rb, step * rb, j.x, j.xOff + t * j.xStride, j.xStride, n, sums, lanes);
                    for (int k = 0; k < TOKENS; k++) {
                        int xt = j.xOff + (t + k) * j.xStride;
                        int o = j.outOff + (t + k) * j.outStride + r;
                        for (int i = 0; i < ROWS; i++) {
                            j.out[o + i * step] = sums[i * TOKENS + k] + tail(w, r + i * step, j.x, xt, p, n);
                        }
                    }
                }
            } else {
                for (; t + WIDE <= j.tokens; t += WIDE) {
                    packedPass(j, r, step, t, WIDE, sums, lanes);
                }
                if (t + TOKENS <= j.tokens) {
                    packedPass(j, r, step, t, TOKENS, sums, lanes);
                    t += TOKENS;
                }
            }
            for (; t < j.tokens; t++) {
                for (int i = 0; i < ROWS; i++) {
                    j.out[j.outOff + t * j.outStride + r + i * step] = dot(j, r + i * step, t, lanes);
                }
            }
        }
        int r = from + groups * ROWS;
        for (; r < to; r++) {
            for (int t = 0; t < j.tokens; t++) {
                j.out[j.outOff + t * j.outStride + r] = dot(j, r, t, lanes);
            }
        }
    }

    /**
     * The group's four rows, two at a time, against the {@code width} (eight or four) packed tokens from
     * {@code t}: F16 and BF16 only.
     */
    private static void packedPass(Job j, int r, int step, int t, int width, float[] sums, float[] lanes) {
        Matrix w = j.w;
        MemorySegment data = w.data();
        long rb = w.rowBytes();
        int n = w.cols();
        boolean f16 = w.format() == Format.F16;
        int shift = PackedMatrix.shift(w.format());
        int evenMask = PackedMatrix.evenMask(w.format());
        int oddMask = PackedMatrix.oddMask(w.format());
        int rebias = PackedMatrix.scaledRebias(w.format());
        int q = j.packedAt(t);
        int chunk = width * 2 * V;
        for (int i = 0; i < ROWS; i += 2) {
            int ri = r + i * step;
            long base = ri * rb;
            int p;
            p = width == WIDE
                    ? dot2x8(
                            data, base, step * rb, shift, evenMask, oddMask, rebias, j.packed, q, chunk, n / 2, sums,
                            lanes)
                    : dot2x4(
                            data, base, step * rb, shift, evenMask, oddMask, rebias, j.packed, q, chunk, n / 2, sums,
                            lanes);
            for (int k = 0; k < width; k++) {
                int xt = j.xOff + (t + k) * j.xStride;
                // x is split for MatVec's plain fields; the packed kernels' weights are 2^14 larger (F16Fields).
                float scale = f16 ? j.rescale[t + k] * F16Fields.SCALED_SUMS : 1f;
                int o = j.outOff + (t + k) * j.outStride + ri;
                j.out[o] = sums[k] * scale + tail(w, ri, j.x, xt, p, n);
                j.out[o + step] = sums[width + k] * scale + tail(w, ri + step, j.x, xt, p, n);
            }
        }
    }

    /** One row against one token, with MatVec's single-row kernels. */
    private static float dot(Job j, int r, int t, float[] lanes) {
        Matrix w = j.w;
        long base = r * w.rowBytes();
        int xt = j.xOff + t * j.xStride;
        return switch (w.format()) {
            case F32 -> MatVec.dotF32(w.data(), base, j.x, xt, w.cols(), lanes);
            case BF16 -> MatVec.dotBF16(w.data(), base, j.x, xt, j.xs[t], w.cols(), lanes);
            case F16 -> MatVec.dotF16(w.data(), base, j.x, xt, w.cols(), MatVec.HALVES.get(), lanes);
            default -> throw new IllegalStateException("matrix " + w.name() + ": not an element format: " + w.format());
        };
    }

    /** Columns {@code [from, n)} of row {@code r} against unsplit x, scalar: the part the vector loop left. */
    private static float tail(Matrix w, int r, float[] x, int xOff, int from, int n) {
        if (from == n) {
            return 0f; // the common case: even widths the vector loop covers
        }
        float s = 0;
        long base = r * w.rowBytes();
        for (int c = from; c < n; c++) {
            s += Convert.load(w.format(), w.data(), base, c) * x[xOff + c];
        }
        return s;
    }

    /*
     * The kernels below return the first column they did not cover. Their loops are a while over a long byte
     * offset for the reason MatVec's STREAM_LOOPS gives, and the widening is written out in each (a helper
     * makes C2 box vectors, see MatVec's WIDENING). Each accumulator is stored to lanes, and
     * sumEach leaves row i, token k's sum in sums[i * 4 + k] (F32, four rows by four tokens) or
     * sums[i * m + k] (two rows by m = 8 or 4 packed tokens).
     */

    /** {@code sums[k]} = the sum of the vector the kernel stored at {@code lanes[k * F.length() ..]}, k < count. */
    private static void sumEach(float[] lanes, float[] sums, int count) {
        for (int k = 0; k < count; k++) {
            sums[k] = Lanes.sum(lanes, k * F.length());
        }
    }

    /** Four F32 rows against tokens at {@code x[xOff + k*xStride ..]}, k < 4. */
    static int dot4x4F32(
            MemorySegment w, long base, long rb, float[] x, int xOff, int xStride, int n, float[] sums, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F),
                c1 = FloatVector.zero(F),
                c2 = FloatVector.zero(F),
                c3 = FloatVector.zero(F);
        FloatVector d0 = FloatVector.zero(F),
                d1 = FloatVector.zero(F),
                d2 = FloatVector.zero(F),
                d3 = FloatVector.zero(F);
        int x0 = xOff, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        long r1 = base + rb, r2 = r1 + rb, r3 = r2 + rb;
        int i = 0;
        long off = 0;
        long end = (long) F.loopBound(n) * 4;
        while (off < end) {
            FloatVector wa = FloatVector.fromMemorySegment(F, w, base + off, LE);
            FloatVector wb = FloatVector.fromMemorySegment(F, w, r1 + off, LE);
            FloatVector wc = FloatVector.fromMemorySegment(F, w, r2 + off, LE);
            FloatVector wd = FloatVector.fromMemorySegment(F, w, r3 + off, LE);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a0 = wa.fma(v, a0);
            b0 = wb.fma(v, b0);
            c0 = wc.fma(v, c0);
            d0 = wd.fma(v, d0);
            v = FloatVector.fromArray(F, x, x1 + i);
            a1 = wa.fma(v, a1);
            b1 = wb.fma(v, b1);
            c1 = wc.fma(v, c1);
            d1 = wd.fma(v, d1);
            v = FloatVector.fromArray(F, x, x2 + i);
            a2 = wa.fma(v, a2);
            b2 = wb.fma(v, b2);
            c2 = wc.fma(v, c2);
            d2 = wd.fma(v, d2);
            v = FloatVector.fromArray(F, x, x3 + i);
            a3 = wa.fma(v, a3);
            b3 = wb.fma(v, b3);
            c3 = wc.fma(v, c3);
            d3 = wd.fma(v, d3);
            i += F.length();
            off += F.vectorByteSize();
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 1 * F.length());
        a2.intoArray(lanes, 2 * F.length());
        a3.intoArray(lanes, 3 * F.length());
        b0.intoArray(lanes, 4 * F.length());
        b1.intoArray(lanes, 5 * F.length());
        b2.intoArray(lanes, 6 * F.length());
        b3.intoArray(lanes, 7 * F.length());
        c0.intoArray(lanes, 8 * F.length());
        c1.intoArray(lanes, 9 * F.length());
        c2.intoArray(lanes, 10 * F.length());
        c3.intoArray(lanes, 11 * F.length());
        d0.intoArray(lanes, 12 * F.length());
        d1.intoArray(lanes, 13 * F.length());
        d2.intoArray(lanes, 14 * F.length());
        d3.intoArray(lanes, 15 * F.length());
        sumEach(lanes, sums, 16);
        return i;
    }

    /**
     * Two F16 or BF16 rows {@code rb} bytes apart against the eight tokens packed from {@code xs[q]}
     * ({@link Job#pack}); sums not yet rescaled, row a's in {@code sums[0..8)}, row b's in {@code sums[8..16)}.
     * Pairs are widened as {@link PackedMatrix#even} and {@link PackedMatrix#odd} widen them, by {@code shift},
     * {@code evenMask} and {@code oddMask} ({@link PackedMatrix#shift}): the F16 and BF16 twins are one kernel.
     * Each accumulator takes a chunk's even product then its odd product, in every kernel here, so a token gets
     * the same bits in an eight-token or a four-token pass. The odd half re-reads the row from L1 rather than
     * keeping the loaded pair alive (registers are short on AVX2). {@code chunk} is the packed stride,
     * {@code 16·V}: passed in, not written as a constant, because with a constant stride C2 compiles a loop with
     * twice the stack traffic (spills, on AVX2), and the kernel runs slower.
     */
    static int dot2x8(
            MemorySegment w,
            long base,
            long rb,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int q,
            int chunk,
            int pairs,
            float[] sums,
            float[] lanes) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F),
                a4 = FloatVector.zero(F),
                a5 = FloatVector.zero(F),
                a6 = FloatVector.zero(F),
                a7 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F),
                b4 = FloatVector.zero(F),
                b5 = FloatVector.zero(F),
                b6 = FloatVector.zero(F),
                b7 = FloatVector.zero(F);
        long r1 = base + rb;
        int p = 0;
        long off = 0;
        long end = (long) I.loopBound(pairs) * 4;
        while (off < end) {
            IntVector pairs1 = IntVector.fromMemorySegment(I, w, base + off, LE);
            FloatVector wa = pairs1.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs1.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits1 = wa.reinterpretAsInts();
                IntVector raised1 = bits1.add(1 << 23);
                wa = wa.blend(
                        raised1.reinterpretAsFloats()
                                .sub(raised1.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits1.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits1.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            IntVector pairs2 = IntVector.fromMemorySegment(I, w, r1 + off, LE);
            FloatVector wb = pairs2.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs2.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits2 = wb.reinterpretAsInts();
                IntVector raised2 = bits2.add(1 << 23);
                wb = wb.blend(
                        raised2.reinterpretAsFloats()
                                .sub(raised2.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits2.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits2.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector x = FloatVector.fromArray(F, xs, q);
            a0 = wa.fma(x, a0);
            b0 = wb.fma(x, b0);
            x = FloatVector.fromArray(F, xs, q + 2 * V);
            a1 = wa.fma(x, a1);
            b1 = wb.fma(x, b1);
            x = FloatVector.fromArray(F, xs, q + 4 * V);
            a2 = wa.fma(x, a2);
            b2 = wb.fma(x, b2);
            x = FloatVector.fromArray(F, xs, q + 6 * V);
            a3 = wa.fma(x, a3);
            b3 = wb.fma(x, b3);
            x = FloatVector.fromArray(F, xs, q + 8 * V);
            a4 = wa.fma(x, a4);
            b4 = wb.fma(x, b4);
            x = FloatVector.fromArray(F, xs, q + 10 * V);
            a5 = wa.fma(x, a5);
            b5 = wb.fma(x, b5);
            x = FloatVector.fromArray(F, xs, q + 12 * V);
            a6 = wa.fma(x, a6);
            b6 = wb.fma(x, b6);
            x = FloatVector.fromArray(F, xs, q + 14 * V);
            a7 = wa.fma(x, a7);
            b7 = wb.fma(x, b7);
            IntVector pairs3 = IntVector.fromMemorySegment(I, w, base + off, LE);
            wa = pairs3.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs3.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits3 = wa.reinterpretAsInts();
                IntVector raised3 = bits3.add(1 << 23);
                wa = wa.blend(
                        raised3.reinterpretAsFloats()
                                .sub(raised3.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits3.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits3.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            IntVector pairs4 = IntVector.fromMemorySegment(I, w, r1 + off, LE);
            wb = pairs4.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs4.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits4 = wb.reinterpretAsInts();
                IntVector raised4 = bits4.add(1 << 23);
                wb = wb.blend(
                        raised4.reinterpretAsFloats()
                                .sub(raised4.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits4.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits4.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            x = FloatVector.fromArray(F, xs, q + V);
            a0 = wa.fma(x, a0);
            b0 = wb.fma(x, b0);
            x = FloatVector.fromArray(F, xs, q + 3 * V);
            a1 = wa.fma(x, a1);
            b1 = wb.fma(x, b1);
            x = FloatVector.fromArray(F, xs, q + 5 * V);
            a2 = wa.fma(x, a2);
            b2 = wb.fma(x, b2);
            x = FloatVector.fromArray(F, xs, q + 7 * V);
            a3 = wa.fma(x, a3);
            b3 = wb.fma(x, b3);
            x = FloatVector.fromArray(F, xs, q + 9 * V);
            a4 = wa.fma(x, a4);
            b4 = wb.fma(x, b4);
            x = FloatVector.fromArray(F, xs, q + 11 * V);
            a5 = wa.fma(x, a5);
            b5 = wb.fma(x, b5);
            x = FloatVector.fromArray(F, xs, q + 13 * V);
            a6 = wa.fma(x, a6);
            b6 = wb.fma(x, b6);
            x = FloatVector.fromArray(F, xs, q + 15 * V);
            a7 = wa.fma(x, a7);
            b7 = wb.fma(x, b7);
            q += chunk;
            p += I.length();
            off += I.vectorByteSize();
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 1 * F.length());
        a2.intoArray(lanes, 2 * F.length());
        a3.intoArray(lanes, 3 * F.length());
        a4.intoArray(lanes, 4 * F.length());
        a5.intoArray(lanes, 5 * F.length());
        a6.intoArray(lanes, 6 * F.length());
        a7.intoArray(lanes, 7 * F.length());
        b0.intoArray(lanes, 8 * F.length());
        b1.intoArray(lanes, 9 * F.length());
        b2.intoArray(lanes, 10 * F.length());
        b3.intoArray(lanes, 11 * F.length());
        b4.intoArray(lanes, 12 * F.length());
        b5.intoArray(lanes, 13 * F.length());
        b6.intoArray(lanes, 14 * F.length());
        b7.intoArray(lanes, 15 * F.length());
        sumEach(lanes, sums, 16);
        return 2 * p;
    }

    /** Two rows against four packed tokens ({@code chunk} = {@code 8·V}), as {@link #dot2x8}; sums in {@code sums[0..8)}. */
    static int dot2x4(
            MemorySegment w,
            long base,
            long rb,
            int shift,
            int evenMask,
            int oddMask,
            int rebias,
            float[] xs,
            int q,
            int chunk,
            int pairs,
            float[] sums,
            float[] lanes) {
        FloatVector a0 = FloatVector.zero(F),
                a1 = FloatVector.zero(F),
                a2 = FloatVector.zero(F),
                a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F),
                b1 = FloatVector.zero(F),
                b2 = FloatVector.zero(F),
                b3 = FloatVector.zero(F);
        long r1 = base + rb;
        int p = 0;
        long off = 0;
        long end = (long) I.loopBound(pairs) * 4;
        while (off < end) {
            IntVector pairs5 = IntVector.fromMemorySegment(I, w, base + off, LE);
            FloatVector wa = pairs5.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs5.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits5 = wa.reinterpretAsInts();
                IntVector raised5 = bits5.add(1 << 23);
                wa = wa.blend(
                        raised5.reinterpretAsFloats()
                                .sub(raised5.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits5.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits5.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            IntVector pairs6 = IntVector.fromMemorySegment(I, w, r1 + off, LE);
            FloatVector wb = pairs6.lanewise(VectorOperators.LSHL, 16)
                    .lanewise(VectorOperators.ASHR, shift)
                    .and(evenMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs6.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits6 = wb.reinterpretAsInts();
                IntVector raised6 = bits6.add(1 << 23);
                wb = wb.blend(
                        raised6.reinterpretAsFloats()
                                .sub(raised6.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits6.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits6.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            FloatVector x = FloatVector.fromArray(F, xs, q);
            a0 = wa.fma(x, a0);
            b0 = wb.fma(x, b0);
            x = FloatVector.fromArray(F, xs, q + 2 * V);
            a1 = wa.fma(x, a1);
            b1 = wb.fma(x, b1);
            x = FloatVector.fromArray(F, xs, q + 4 * V);
            a2 = wa.fma(x, a2);
            b2 = wb.fma(x, b2);
            x = FloatVector.fromArray(F, xs, q + 6 * V);
            a3 = wa.fma(x, a3);
            b3 = wb.fma(x, b3);
            IntVector pairs7 = IntVector.fromMemorySegment(I, w, base + off, LE);
            wa = pairs7.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs7.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits7 = wa.reinterpretAsInts();
                IntVector raised7 = bits7.add(1 << 23);
                wa = wa.blend(
                        raised7.reinterpretAsFloats()
                                .sub(raised7.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits7.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits7.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            IntVector pairs8 = IntVector.fromMemorySegment(I, w, r1 + off, LE);
            wb = pairs8.lanewise(VectorOperators.ASHR, shift)
                    .and(oddMask)
                    .add(rebias)
                    .reinterpretAsFloats();
            if (rebias != 0
                    && pairs8.and(F16Fields.PAIR_EXPONENTS)
                            .reinterpretAsShorts()
                            .compare(VectorOperators.EQ, (short) 0)
                            .anyTrue()) {
                IntVector bits8 = wb.reinterpretAsInts();
                IntVector raised8 = bits8.add(1 << 23);
                wb = wb.blend(
                        raised8.reinterpretAsFloats()
                                .sub(raised8.and(0xFF800000).reinterpretAsFloats())
                                .reinterpretAsInts()
                                .or(bits8.and(0x80000000))
                                .reinterpretAsFloats(),
                        bits8.and(0x7F800000)
                                .compare(VectorOperators.EQ, rebias)
                                .cast(F));
            }
            x = FloatVector.fromArray(F, xs, q + V);
            a0 = wa.fma(x, a0);
            b0 = wb.fma(x, b0);
            x = FloatVector.fromArray(F, xs, q + 3 * V);
            a1 = wa.fma(x, a1);
            b1 = wb.fma(x, b1);
            x = FloatVector.fromArray(F, xs, q + 5 * V);
            a2 = wa.fma(x, a2);
            b2 = wb.fma(x, b2);
            x = FloatVector.fromArray(F, xs, q + 7 * V);
            a3 = wa.fma(x, a3);
            b3 = wb.fma(x, b3);
            q += chunk;
            p += I.length();
            off += I.vectorByteSize();
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 1 * F.length());
        a2.intoArray(lanes, 2 * F.length());
        a3.intoArray(lanes, 3 * F.length());
        b0.intoArray(lanes, 4 * F.length());
        b1.intoArray(lanes, 5 * F.length());
        b2.intoArray(lanes, 6 * F.length());
        b3.intoArray(lanes, 7 * F.length());
        sumEach(lanes, sums, 8);
        return 2 * p;
    }
}
