package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.ReadBandwidth;
import io.falconmamba.core.kernels.ThreadPool;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
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

/**
 * Memory read bandwidth: sums a large segment (off-heap, or a mapped file) with the engine's ThreadPool through
 * {@link ReadBandwidth}, the probe {@code bench --bandwidth} also runs: the ceiling decode is measured against.
 * One op = one pass; GB/s = ops/s × size (the report computes it).
 *
 * <p>{@code streams}: how many sequential streams each thread reads at once (its claimed range cut in that many
 * parts). Some CPUs need more than one stream per core to reach their bandwidth (Zen 3 reads about a quarter
 * more with four), so the report takes the best reading as the ceiling.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class BandwidthBench {

    /** Bytes per pass (256 MiB: far beyond any cache). */
    public static final long SIZE = 256L << 20;

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
    private final float[] partial = new float[(int) (SIZE / ReadBandwidth.BLOCK)];

    private Path file;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        arena = Arena.ofShared();
        if (source.equals("mapped")) {
            file = Bench.models().resolve("bandwidth.bin");
            Files.createDirectories(file.getParent());
            if (!Files.exists(file) || Files.size(file) != SIZE) {
                try (FileChannel ch = FileChannel.open(
                        file,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.READ,
                        StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE, arena);
                    ReadBandwidth.fill(m);
                }
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena);
            }
        } else {
            seg = arena.allocate(SIZE, 64);
            ReadBandwidth.fill(seg);
        }
        pool = new ThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float sum() {
        return ReadBandwidth.sum(seg, streams, pool, partial);
    }
}
