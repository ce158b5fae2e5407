package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.Format;
import io.falconmamba.core.kernels.QuantizedMatrix;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;
import java.lang.foreign.Arena;
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
 * Matrix × vector (the decode kernel) at a 7B-like size, weights off-heap. One op = one full pass over W;
 * GB/s = ops/s × rows × cols × bytes per element (the report computes it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatVecBench {

    /** A stored weight type, or Q8_0 / Q4_0: quantized at setup from an F32 matrix of the same values. */
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    public String dtype;

    @Param({"1", "2"})
    public int threads;

    @Param({"8192"})
    public int rows;

    @Param({"4096"})
    public int cols;

    private Arena arena;
    private Weight w;
    private float[] x;
    private float[] out;
    private ThreadPool pool;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        if (dtype.startsWith("Q")) {
            try (ThreadPool setupPool = ThreadPool.ofAvailableProcessors()) {
                w = QuantizedMatrix.quantize(
                        Bench.randomMatrix(arena, Format.F32, rows, cols, 1), Format.valueOf(dtype), arena, setupPool);
            }
        } else {
            w = Bench.randomMatrix(arena, Format.valueOf(dtype), rows, cols, 1);
        }
        x = Bench.randomVector(cols, 2);
        out = new float[rows];
        pool = new ThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] matVec() {
        w.matVec(x, 0, out, 0, pool);
        return out;
    }
}
