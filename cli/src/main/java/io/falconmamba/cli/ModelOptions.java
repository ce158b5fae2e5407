package io.falconmamba.cli;

import io.falconmamba.Engine;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.hub.GgufChoice;
import io.falconmamba.hub.ModelResolver;
import io.falconmamba.hub.ResolveOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which model to load and how: shared by every command. */
final class ModelOptions {

    @Option(
            names = {"-m", "--model"},
            paramLabel = "DIR|FILE.gguf|REPO",
            description = "Model directory, GGUF file, or Hugging Face repo id (org/name, found in the HF cache)."
                    + " Default: the bundled demo model.")
    String model;

    @Option(names = "--threads", paramLabel = "N", description = "Kernel threads (default: all cores).")
    Integer threads;

    @Option(names = "--download", description = "Allow downloading a repo id missing from the Hugging Face cache.")
    boolean download;

    @Option(
            names = "--quant",
            paramLabel = "TYPE",
            description =
                    "Quantize the weight matrices at load to llama.cpp's q8_0 or q4_0 blocks (default: none, as stored)."
                            + " With a repo id of GGUF files, another type (Q4_K_M, Q6_K, BF16...) picks the repo's"
                            + " file of that type.")
    String quant;

    @Option(
            names = "--gguf-file",
            paramLabel = "NAME",
            description = "With a repo id: the GGUF file of the repo to load (a repo can hold several).")
    String ggufFile;

    @Option(
            names = "--no-mmap",
            description = "Copy the weight matrices into memory at load instead of reading them "
                    + "from the mapped files: slower load, faster decode (as llama.cpp's --no-mmap).")
    boolean noMmap;

    WeightStorage storage() {
        return noMmap ? WeightStorage.IN_MEMORY : WeightStorage.MAPPED;
    }

    Quantization quantization() {
        return quant == null || picksGgufType() ? Quantization.NONE : Quantization.parse(quant);
    }

    /**
     * Whether {@code --quant} names the type of a repo's GGUF file to load (Q4_K_M, Q6_K, BF16, ...) rather than
     * a quantization at load: it does with {@code --gguf-file} absent, a repo id as model, and a type that is not
     * a load quantization.
     */
    private boolean picksGgufType() {
        if (quant == null || ggufFile != null || !isRepoId()) {
            return false;
        }
        try {
            Quantization.parse(quant);
            return false;
        } catch (IllegalArgumentException e) {
            return true;
        }
    }

    private boolean isRepoId() {
        return model != null && !Files.exists(Path.of(model)) && model.contains("/");
    }

    /** The model to load: {@link #modelName()}, or the path of the repo's GGUF file that the options pick. */
    private String target(Progress progress) {
        if (isRepoId() && (ggufFile != null || picksGgufType())) {
            ResolveOptions ro = ResolveOptions.builder()
                    .allowDownload(download)
                    .listener(download ? progress : null)
                    .build();
            return ModelResolver.resolveGguf(model, new GgufChoice(ggufFile, ggufFile == null ? quant : null), ro)
                    .toString();
        }
        if (ggufFile != null) {
            throw new IllegalArgumentException("--gguf-file goes with a repo id as --model, not " + modelName());
        }
        return modelName();
    }

    /** The demo model shipped in the project; bin/falcon-mamba passes its location. */
    static Path demoModel() {
        String dir = System.getProperty("falconmamba.demoModel");
        if (dir != null) {
            return Path.of(dir);
        }
        String home = System.getProperty("falconmamba.home", ".");
        return Path.of(home, "src", "test", "models", "demo-kjv");
    }

    String modelName() {
        return model != null ? model : demoModel().toString();
    }

    /** The engine alone (no tokenizer needed), for benchmarks on synthetic checkpoints. */
    Engine loadEngine() {
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        LoadOptions opts = LoadOptions.defaults()
                .withQuantization(quantization())
                .withStorage(storage())
                .withDownload(download, null);
        if (threads != null) {
            opts = opts.withThreads(threads);
        }
        long t0 = System.nanoTime();
        Engine engine;
        try (Progress progress = Progress.forDownloads()) {
            engine = Engine.open(target(progress), opts);
        }
        Quantization q = engine.model().quantization();
        Progress.note(String.format(
                "loaded %s%s%s in %.3f s",
                engine.directory(),
                q == Quantization.NONE ? "" : " (" + q.label() + ")",
                engine.model().weightStorage() == WeightStorage.IN_MEMORY ? " into memory" : "",
                (System.nanoTime() - t0) / 1e9));
        return engine;
    }

    FalconMamba load() {
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        LoadOptions opts =
                LoadOptions.defaults().withQuantization(quantization()).withStorage(storage());
        if (threads != null) {
            opts = opts.withThreads(threads);
        }
        String name = modelName();
        if (model == null && !Files.isDirectory(Path.of(name))) {
            throw new IllegalArgumentException("the bundled demo model is missing at " + name + ": pass --model DIR");
        }
        Progress progress = Progress.forDownloads();
        opts = opts.withDownload(download, download ? progress : null);
        long t0 = System.nanoTime();
        try {
            FalconMamba fm = FalconMamba.load(target(progress), opts);
            Progress.note(String.format("loaded %s in %.2f s", fm.directory(), (System.nanoTime() - t0) / 1e9));
            return fm;
        } finally {
            progress.close();
        }
    }
}
