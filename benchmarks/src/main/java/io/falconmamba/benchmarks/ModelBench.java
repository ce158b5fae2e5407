package io.falconmamba.benchmarks;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;

/** A synthesised checkpoint opened (mapped) and a model built over it (matrices mapped or copied), for the end-to-end benchmarks. */
final class ModelBench implements AutoCloseable {

    final Checkpoint checkpoint;
    final FalconMambaModel model;

    ModelBench(String shape, String dtype, int threads) throws IOException {
        this(shape, dtype, threads, WeightStorage.MAPPED);
    }

    ModelBench(String shape, String dtype, int threads, WeightStorage storage) throws IOException {
        this(shape, dtype, threads, storage, Quantization.NONE);
    }

    /** With {@code quant} other than NONE, the matrices are quantized at load (as {@code --quant}). */
    ModelBench(String shape, String dtype, int threads, WeightStorage storage, Quantization quant) throws IOException {
        Path dir = Bench.checkpoint(shape, dtype);
        ModelConfig mc = ModelConfig.fromJson(dir);
        checkpoint = Checkpoint.open(dir);
        model = FalconMambaModel.create(mc.toMambaConfig(), checkpoint, threads, quant, storage);
    }

    @Override
    public void close() {
        model.close();
        checkpoint.close();
    }
}
