package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Memory read bandwidth as the decode kernels meet it: a vector sum over a buffer far larger than any cache,
 * handed to a {@link ThreadPool} in 64 KiB blocks as the kernels hand out rows. Decode reads every weight once
 * per token, so this is its speed limit (docs/performance.md). {@code bench --bandwidth} and the
 * JMH {@code BandwidthBench} both measure with it, so their figures compare.
 *
 * <p>Some CPUs need more than one sequential stream per core to reach their bandwidth (AMD Zen 3 reads about a
 * quarter more with four, which is why {@link MatVec#STREAMS} exists), so a pass reads either one stream per
 * thread or four, each a quarter of the thread's claimed range.
 */
public final class ReadBandwidth {

    /** Bytes per block the pool hands out; buffers are a whole number of blocks. */
    public static final int BLOCK = 1 << 16;

    private ReadBandwidth() {}

    /**
     * Sums {@code seg} with {@code streams} (1 or 4) sequential streams per thread, leaving one sum per block in
     * {@code partial}, and returns their total: the result depends on every byte, so no pass can be skipped.
     */
    public static float sum(MemorySegment seg, int streams, ThreadPool pool, float[] partial) {
        if (seg.byteSize() == 0 || seg.byteSize() % BLOCK != 0) {
            throw new IllegalArgumentException(
                    "seg: size must be a positive multiple of " + BLOCK + " bytes, got " + seg.byteSize());
        }
        if (streams != 1 && streams != 4) {
            throw new IllegalArgumentException("streams must be 1 or 4, got " + streams);
        }
        long blocks = seg.byteSize() / BLOCK;
        if (partial.length < blocks) {
            throw new IllegalArgumentException("partial: needs " + blocks + " elements, has " + partial.length);
        }
        pool.parallelFor((int) blocks, (from, to) -> {
            int q = streams == 4 ? (to - from) / 4 : 0;
            float s = q == 0 ? 0f : sumRanges4(seg, (long) from * BLOCK, (long) q * BLOCK);
            partial[from] = s + sumRange(seg, (long) (from + 4 * q) * BLOCK, (long) to * BLOCK);
            for (int b = from + 1; b < to; b++) {
                partial[b] = 0f;
            }
        });
        float total = 0f;
        for (int b = 0; b < blocks; b++) {
            total += partial[b];
        }
        return total;
    }

    /**
     * The read rate in GB/s (10^9 bytes per second) of a fresh off-heap buffer of {@code bytes}: {@code passes}
     * timed passes with one stream per thread and {@code passes} with four, alternating, after one untimed pass
     * of each; the better of the two counts' rates over all their passes. The ceiling a decode figure is a
     * share of. {@code bytes} must be a positive multiple of {@link #BLOCK}; take it well
     * beyond the last-level cache (256 MiB) or the figure is a cache's, not memory's.
     */
    public static double measure(long bytes, int passes, ThreadPool pool) {
        if (bytes <= 0 || bytes % BLOCK != 0 || bytes / BLOCK > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bytes must be a positive multiple of " + BLOCK + ", got " + bytes);
        }
        if (passes < 1) {
            throw new IllegalArgumentException("passes must be at least 1, got " + passes);
        }
        float[] partial = new float[(int) (bytes / BLOCK)];
        double best = 0;
        try (Arena arena = Arena.ofShared()) { // shared: the pool's threads read it
            MemorySegment seg = arena.allocate(bytes, 64);
            fill(seg);
            float sink = sum(seg, 1, pool, partial) + sum(seg, 4, pool, partial);
            // Alternating the stream counts spreads both over the same stretch of the host's drifting bandwidth;
            // each count's rate is over all its passes (a sustained rate, as JMH's), not its fastest pass.
            long[] nanos = new long[2];
            for (int p = 0; p < 2 * passes; p++) {
                long t0 = System.nanoTime();
                sink += sum(seg, p % 2 == 0 ? 1 : 4, pool, partial);
                nanos[p % 2] += System.nanoTime() - t0;
            }
            for (long t : nanos) {
                best = Math.max(best, (double) passes * bytes / t);
            }
            if (Float.isNaN(sink)) {
                throw new IllegalStateException("bandwidth probe summed to NaN"); // keeps the sums alive
            }
        }
        return best;
    }

    /** Fills a segment of whole blocks with small finite floats, the same in every block, for {@link #sum} to read. */
    public static void fill(MemorySegment seg) {
        if (seg.byteSize() == 0 || seg.byteSize() % BLOCK != 0) {
            throw new IllegalArgumentException(
                    "seg: size must be a positive multiple of " + BLOCK + " bytes, got " + seg.byteSize());
        }
        float[] block = new float[BLOCK / 4];
        for (int i = 0; i < block.length; i++) {
            block[i] = (i & 1023) * 1e-3f;
        }
        for (long b = 0; b < seg.byteSize() / BLOCK; b++) {
            MemorySegment.copy(block, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, b * BLOCK, block.length);
        }
    }

    /** Four ranges of {@code len} bytes from {@code lo}, end to end, read at once: four sequential streams. */
    static float sumRanges4(MemorySegment m, long lo, long len) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long step = F.vectorByteSize();
        for (long o = lo; o < lo + len; o += step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, m, o, LE));
            a1 = a1.add(FloatVector.fromMemorySegment(F, m, o + len, LE));
            a2 = a2.add(FloatVector.fromMemorySegment(F, m, o + 2 * len, LE));
            a3 = a3.add(FloatVector.fromMemorySegment(F, m, o + 3 * len, LE));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    /** {@code [lo, hi)} as one sequential stream ({@code hi - lo} a multiple of four vectors: whole blocks). */
    static float sumRange(MemorySegment m, long lo, long hi) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long step = F.vectorByteSize();
        for (long o = lo; o < hi; o += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, m, o, LE));
            a1 = a1.add(FloatVector.fromMemorySegment(F, m, o + step, LE));
            a2 = a2.add(FloatVector.fromMemorySegment(F, m, o + 2 * step, LE));
            a3 = a3.add(FloatVector.fromMemorySegment(F, m, o + 3 * step, LE));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
