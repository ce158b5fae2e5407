package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.ThreadPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * Memory read bandwidth: sums a large segment (off-heap, or a mapped file) with the engine's ThreadPool,
 * the ceiling decode is measured against. One op = one pass; GB/s = ops/s × size (the report computes it).
 *
 * <p>{@code streams}: how many sequential streams each thread reads at once (its claimed range cut in that many
 * parts). Some CPUs need more than one stream per core to reach their bandwidth (Zen 3 reads more with four,
 * as the decode kernels found), so the report takes the best reading as the ceiling.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class BandwidthBench {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Bytes per pass (256 MiB: far beyond any cache). */
    public static final long SIZE = 256L << 20;
    private static final int BLOCK = 1 << 16;

    @Param({"offheap", "mapped"})
    public String source;

    @Param({"1", "2"})
    public int threads;

    @Param({"1", "4"})
    public int streams;

    private Arena arena;
    private MemorySegment seg;
    private ThreadPool pool;
    /** One sum per 64 KiB block, so the result depends on every byte. */
    private final float[] partial = new float[(int) (SIZE / BLOCK)];
    private Path file;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        arena = Arena.ofShared();
        if (source.equals("mapped")) {
            file = Bench.models().resolve("bandwidth.bin");
            Files.createDirectories(file.getParent());
            if (!Files.exists(file) || Files.size(file) != SIZE) {
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE, arena);
                    fill(m);
                }
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena);
            }
        } else {
            seg = arena.allocate(SIZE, 64);
            fill(seg);
        }
        pool = new ThreadPool(threads);
    }

    private static void fill(MemorySegment m) {
        for (long i = 0; i < SIZE / 4; i++) {
            m.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (i & 1023) * 1e-3f);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float sum() {
        // Split in 64 KiB blocks the pool hands out like the kernels' rows, so a thread that starts late (or is
        // descheduled) does not leave half the segment to the other one.
        pool.parallelFor(partial.length, (from, to) -> {
            int q = streams == 4 ? (to - from) / 4 : 0;
            float sum = q == 0 ? 0f : sumRanges4(seg, (long) from * BLOCK, (long) q * BLOCK);
            partial[from] = sum + sumRange(seg, (long) (from + 4 * q) * BLOCK, (long) to * BLOCK);
        });
        float s = 0;
        for (float p : partial) {
            s += p;
        }
        return s;
    }

    /** Four ranges of {@code len} bytes from {@code lo}, end to end, read at once: four sequential streams. */
    static float sumRanges4(MemorySegment m, long lo, long len) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long step = F.vectorByteSize();
        for (long o = lo; o < lo + len; o += step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, m, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, m, o + len, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, m, o + 2 * len, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, m, o + 3 * len, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    static float sumRange(MemorySegment m, long lo, long hi) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long step = F.vectorByteSize();
        for (long o = lo; o < hi; o += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, m, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, m, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, m, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, m, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
