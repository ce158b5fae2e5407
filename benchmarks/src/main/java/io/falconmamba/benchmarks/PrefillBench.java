package io.falconmamba.benchmarks;

import io.falconmamba.core.PrefillMode;
import java.io.IOException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/** Prefill of a 512-token prompt into a fresh state; ops/s = prompt tokens/s. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 4)
@Measurement(iterations = 3, time = 4)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class PrefillBench {

    static final int PROMPT = 512;

    @Param({"fm-130m"})
    public String shape;

    @Param({"bf16"})
    public String dtype;

    @Param({"2"})
    public int threads;

    @Param({"parallel", "chunked:64", "chunked:256"})
    public String mode;

    /** MAPPED (read in place, {@code --mmap}) or IN_MEMORY (repacked at load, {@code --no-mmap}). */
    @Param({"MAPPED"})
    public String storage;

    private ModelBench m;
    private PrefillMode prefillMode;
    private int[] prompt;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        m = new ModelBench(shape, dtype, threads, io.falconmamba.core.WeightStorage.valueOf(storage));
        prefillMode = PrefillMode.parse(mode);
        SplittableRandom r = new SplittableRandom(5);
        prompt = new int[PROMPT];
        for (int i = 0; i < PROMPT; i++) {
            prompt[i] = r.nextInt(m.model.config().vocabSize());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        m.close();
    }

    @Benchmark
    @OperationsPerInvocation(PROMPT)
    public float[] prefill() {
        return m.model.prefill(m.model.newState(), prompt, prefillMode);
    }
}
