package io.falconmamba.benchmarks;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time to load: parse config.json, open and map the safetensors (headers checked), build the model, close.
 * The files are in the page cache after the first iteration, so this is the warm-cache load time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class LoadBench {

    @Param({"fm-130m", "fm-1.4b"})
    public String shape;

    @Param({"bf16"})
    public String dtype;

    private Path dir;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Bench.checkpoint(shape, dtype);
    }

    @Benchmark
    public int load() {
        ModelConfig mc = ModelConfig.fromJson(dir);
        try (Checkpoint ck = Checkpoint.open(dir);
                FalconMambaModel model =
                        FalconMambaModel.create(mc.toMambaConfig(), ck, 1, Quantization.NONE, WeightStorage.MAPPED)) {
            return model.config().numLayers();
        }
    }
}
