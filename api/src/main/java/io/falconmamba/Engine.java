package io.falconmamba;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.hub.ModelResolver;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.CheckpointValidator;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.loader.WeightFiles;
import io.falconmamba.loader.gguf.GgufFile;
import io.falconmamba.loader.gguf.GgufModelConfig;
import io.falconmamba.loader.gguf.GgufWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * A checkpoint's engine alone: config, mapped weights and the block stack, without tokenizer or generation
 * defaults. The checkpoint is a Hugging Face directory (config.json and safetensors) or a single GGUF file. {@link FalconMamba} is built on it; use it directly for token-level work or to benchmark checkpoints
 * that ship no tokenizer. Closing it stops the kernel threads and unmaps the weights.
 */
public record Engine(Path directory, ModelConfig config, WeightFiles weights, FalconMambaModel model)
        implements AutoCloseable {

    private static final String GENERATION_CONFIG = "generation_config.json";

    /** Opens a local directory, or a repo id found in (or, when the options allow, downloaded to) the HF cache. */
    public static Engine open(String pathOrRepoId, LoadOptions options) {
        Objects.requireNonNull(options, "options");
        return open(ModelResolver.resolve(pathOrRepoId, options.resolve()), options);
    }

    /**
     * Reads config.json, maps the safetensors weights, checks every tensor against the config and builds the
     * model (quantising it when the options ask for it).
     */
    public static Engine open(Path modelDir, LoadOptions options) {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(options, "options");
        if (GgufFile.isGgufPath(modelDir) && Files.isRegularFile(modelDir)) {
            return openGguf(modelDir, options);
        }
        if (!Files.isDirectory(modelDir)) {
            throw new ModelLoadException("model directory " + modelDir + " does not exist or is not a directory");
        }
        ModelConfig config = ModelConfig.fromJson(modelDir.resolve("config.json"));
        Checkpoint checkpoint = Checkpoint.open(modelDir);
        try {
            CheckpointValidator.validate(config.toMambaConfig(), checkpoint);
            FalconMambaModel model = FalconMambaModel.create(
                    config.toMambaConfig(), checkpoint, options.threads(), options.quantization(), options.storage());
            return new Engine(modelDir, config, checkpoint, model);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** Reads the hyper-parameters and weights of a GGUF file (architecture mamba) and builds the model. */
    private static Engine openGguf(Path file, LoadOptions options) {
        GgufWeights weights = new GgufWeights(GgufFile.open(file));
        try {
            ModelConfig config = GgufModelConfig.read(weights.file());
            CheckpointValidator.validate(config.toMambaConfig(), weights);
            FalconMambaModel model = FalconMambaModel.create(
                    config.toMambaConfig(), weights, options.threads(), options.quantization(), options.storage());
            return new Engine(file, config, weights, model);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /**
     * generation_config.json when present (Hugging Face's keys), with the eos id(s) of config.json as stop tokens
     * when it names none.
     *
     * @throws ModelLoadException when generation_config.json cannot be read or holds an invalid value
     */
    public GenerationConfig generationDefaults() {
        GenerationConfig.Builder b = GenerationConfig.builder();
        Map<String, Object> values = generationConfigValues();
        if (values != null) {
            try {
                b.applyHuggingFace(values);
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException(directory.resolve(GENERATION_CONFIG) + ": " + e.getMessage(), e);
            }
        }
        if (!namesEos() && !config.eosTokenIds().isEmpty()) {
            b.stopTokenIds(config.eosTokenIds());
        }
        return b.build();
    }

    /** Whether generation_config.json names the eos token(s) itself. */
    boolean namesEos() {
        Map<String, Object> values = generationConfigValues();
        return values != null && values.get("eos_token_id") != null;
    }

    private Map<String, Object> generationConfigValues() {
        // A GGUF file carries no generation_config.json: its defaults come from the GGUF metadata.
        Path file = directory.resolve(GENERATION_CONFIG);
        if (!Files.isDirectory(directory) || !Files.exists(file)) {
            return null;
        }
        try {
            return JsonFiles.readObject(file);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        model.close();
        weights.close();
    }
}
