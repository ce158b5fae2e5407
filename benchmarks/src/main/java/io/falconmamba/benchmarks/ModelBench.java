package io.falconmamba.benchmarks;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;

import java.io.IOException;
import java.nio.file.Path;

/** A synthesised checkpoint opened (mapped) and a model built over it, for the end-to-end benchmarks. */
final class ModelBench implements AutoCloseable {

    final Checkpoint checkpoint;
    final FalconMambaModel model;

    ModelBench(String shape, String dtype, int threads) throws IOException {
        Path dir = Bench.checkpoint(shape, dtype);
        ModelConfig mc = ModelConfig.fromJson(dir);
        checkpoint = Checkpoint.open(dir);
        model = FalconMambaModel.create(mc.toMambaConfig(), checkpoint, threads);
    }

    @Override
    public void close() {
        model.close();
        checkpoint.close();
    }
}
