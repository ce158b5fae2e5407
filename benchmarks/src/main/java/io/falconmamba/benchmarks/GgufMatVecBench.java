package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.BlockMatrix;
import io.falconmamba.core.kernels.Format;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;
import io.falconmamba.loader.gguf.GgmlType;
import io.falconmamba.loader.gguf.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * Matrix × vector (decode) over row-major ggml blocks as a GGUF file stores them ({@link BlockMatrix}), at
 * fm-130m's in_proj size (3072 × 768). The blocks are written by the loader's {@link Quantizer} from random
 * floats; {@code generic} runs the same matrix through the {@link Weight} defaults (rows decoded, then dotted),
 * the path of every block format without a kernel of its own. One op = one full pass over W.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GgufMatVecBench {

    @Param({"Q8_0", "Q4_K", "Q6_K", "Q4_0", "Q5_0"})
    public String type;

    @Param({"false", "true"})
    public boolean generic;

    @Param({"1"})
    public int threads;

    @Param({"3072"})
    public int rows;

    @Param({"768"})
    public int cols;

    private Arena arena;
    private Weight w;
    private float[] x;
    private float[] out;
    private ThreadPool pool;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        Format f = Format.valueOf(type);
        long rowBytes = f.rowBytes(cols);
        MemorySegment seg = arena.allocate(rows * rowBytes, 64);
        for (int r = 0; r < rows; r++) {
            float[] row = Bench.randomVector(cols, r);
            Quantizer.quantize(GgmlType.valueOf(type), row, 0, cols, seg, r * rowBytes);
        }
        BlockMatrix m = BlockMatrix.of("bench", rows, cols, f, seg);
        w = generic ? rowsOnly(m) : m;
        x = Bench.randomVector(cols, -1);
        out = new float[rows];
        pool = new ThreadPool(threads);
    }

    /** The matrix seen through {@code rowToFloats} alone, so every product takes the interface's defaults. */
    private static Weight rowsOnly(BlockMatrix m) {
        return new Weight() {
            @Override
            public String name() {
                return m.name();
            }

            @Override
            public int rows() {
                return m.rows();
            }

            @Override
            public int cols() {
                return m.cols();
            }

            @Override
            public Format format() {
                return m.format();
            }

            @Override
            public long byteSize() {
                return m.byteSize();
            }

            @Override
            public void rowToFloats(int r, float[] o, int off) {
                m.rowToFloats(r, o, off);
            }
        };
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
