package io.falconmamba.benchmarks;

import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import java.io.IOException;
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

/** Single-sequence decode: one op = one token (ops/s = tokens/s). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 3)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DecodeBench {

    @Param({"fm-130m", "fm-1.4b"})
    public String shape;

    @Param({"bf16", "f16"})
    public String dtype;

    @Param({"2"})
    public int threads;

    /** MAPPED (read in place, {@code --mmap}) or IN_MEMORY (copied at load, {@code --no-mmap}). */
    @Param({"MAPPED", "IN_MEMORY"})
    public String storage;

    /** none (weights as stored), q8_0 or q4_0: quantized at load, as {@code --quant}. */
    @Param({"none"})
    public String quant;

    private ModelBench m;
    private SequenceState state;
    private int next;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        m = new ModelBench(
                shape,
                dtype,
                threads,
                io.falconmamba.core.WeightStorage.valueOf(storage),
                io.falconmamba.core.Quantization.parse(quant));
        state = m.model.newState();
        m.model.prefill(state, new int[] {1, 2, 3, 4}, PrefillMode.parallel());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        m.close();
    }

    @Benchmark
    public float[] decode() {
        next = (next * 31 + 7) % 65_000;
        return m.model.decode(state, next);
    }
}
