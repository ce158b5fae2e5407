package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.Format;
import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.MatrixProduct;
import io.falconmamba.core.kernels.ThreadPool;
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
 * Matrix × matrix (the prefill kernel): W rows × cols against T activation rows. One op = one product;
 * GFLOP/s = ops/s × 2 × rows × cols × tokens / 1e9 (the report computes it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatMulBench {

    @Param({"BF16"})
    public String dtype;

    @Param({"2"})
    public int threads;

    @Param({"4096"})
    public int rows;

    @Param({"2048"})
    public int cols;

    @Param({"256"})
    public int tokens;

    private Arena arena;
    private Matrix w;
    private float[] x;
    private float[] out;
    private ThreadPool pool;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        w = Bench.randomMatrix(arena, Format.valueOf(dtype), rows, cols, 1);
        x = Bench.randomVector(cols * tokens, 2);
        out = new float[rows * tokens];
        pool = new ThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] matMul() {
        MatrixProduct.multiply(w, x, 0, cols, tokens, out, 0, rows, pool);
        return out;
    }
}
