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

/** Batch decode: one op = one step for {@code batch} sequences; the report gives tokens/s = ops/s × batch. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 3)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class BatchDecodeBench {

    @Param({"fm-130m"})
    public String shape;

    @Param({"bf16"})
    public String dtype;

    @Param({"2"})
    public int threads;

    @Param({"1", "4", "8"})
    public int batch;

    /** MAPPED (read in place, {@code --mmap}) or IN_MEMORY (repacked at load, {@code --no-mmap}). */
    @Param({"MAPPED"})
    public String storage;

    /** none (weights as stored), q8_0 or q4_0: quantized at load, as {@code --quant}. */
    @Param({"none"})
    public String quant;

    private ModelBench m;
    private SequenceState[] states;
    private int[] tokens;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        m = new ModelBench(
                shape,
                dtype,
                threads,
                io.falconmamba.core.WeightStorage.valueOf(storage),
                io.falconmamba.core.Quantization.parse(quant));
        states = new SequenceState[batch];
        tokens = new int[batch];
        for (int i = 0; i < batch; i++) {
            states[i] = m.model.newState();
            m.model.prefill(states[i], new int[] {1 + i, 2, 3}, PrefillMode.parallel());
            tokens[i] = 100 + i;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        m.close();
    }

    @Benchmark
    public SequenceState[] decodeBatch() {
        for (int i = 0; i < batch; i++) {
            tokens[i] = (tokens[i] * 31 + 7) % 65_000;
        }
        m.model.decodeBatch(states, tokens, batch);
        return states;
    }
}
