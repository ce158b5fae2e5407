package io.falconmamba.cli;

import io.falconmamba.Engine;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.hub.GgufChoice;
import io.falconmamba.hub.HubException;
import io.falconmamba.hub.ModelResolver;
import io.falconmamba.hub.RepoId;
import io.falconmamba.tokenizer.Tokenizer;
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

    @Option(
            names = "--threads",
            paramLabel = "N",
            description = "Kernel threads, at most the number of cores (default: all cores).")
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
            description = "Copy the weight matrices into memory at load, whatever their size: slower load, faster "
                    + "decode (as llama.cpp's --no-mmap). F16, BF16 and a GGUF file's Q8_0/Q4_0/Q4_K/Q6_K go into row tiles; "
                    + "other GGUF block types are copied as stored. Default: copied when the checkpoint takes 64 MiB or more and at most half "
                    + "of the available memory, else mapped.")
    boolean noMmap;

    @Option(
            names = "--mmap",
            description = "Read the weight matrices in place from the mapped files, whatever their size: quickest "
                    + "load, shared page cache, slower decode on most machines.")
    boolean mmap;

    WeightStorage storage() {
        if (noMmap && mmap) {
            throw new IllegalArgumentException("--mmap and --no-mmap contradict each other: give one");
        }
        return noMmap ? WeightStorage.IN_MEMORY : mmap ? WeightStorage.MAPPED : WeightStorage.AUTO;
    }

    Quantization quantization() {
        return quant == null || picksGgufType()
                ? Quantization.NONE
                : UsageException.check("--quant", () -> Quantization.parse(quant));
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
        return model != null && !Files.exists(Path.of(model)) && RepoId.isValid(model);
    }

    /** Checks the flags without touching the model: a bad one is a usage error. */
    void validate() {
        threads();
        quantization();
        if (ggufFile != null && !isRepoId()) {
            throw new UsageException("--gguf-file goes with a repo id as --model, not " + modelName());
        }
    }

    /** --threads, bounded by the cores (more threads than cores only contend for them). */
    private int threads() {
        if (boundedThreads == 0) {
            boundedThreads = boundThreads();
        }
        return boundedThreads;
    }

    private int boundedThreads;

    private int boundThreads() {
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads == null) {
            return cores;
        }
        if (threads < 1) {
            throw new UsageException("--threads must be at least 1, got " + threads);
        }
        if (threads > cores) {
            Progress.note("--threads " + threads + " is more than the " + cores + " cores: using " + cores);
            return cores;
        }
        return threads;
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

    private LoadOptions options() {
        return LoadOptions.defaults()
                .withThreads(threads())
                .withQuantization(quantization())
                .withStorage(storage());
    }

    /** The model's directory: a local one, or a repo id found in (or with --download, fetched to) the HF cache. */
    Path directory() {
        String name = modelName();
        if (model == null && !Files.isDirectory(Path.of(name))) {
            throw new IllegalArgumentException("the bundled demo model is missing at " + name + ": pass --model DIR");
        }
        Progress progress = Progress.forDownloads();
        try {
            LoadOptions withDownload = options().withDownload(download, download ? progress : null);
            if (isRepoId() && (ggufFile != null || picksGgufType())) {
                GgufChoice choice = new GgufChoice(ggufFile, ggufFile == null ? quant : null);
                return ModelResolver.resolveGguf(name, choice, withDownload.resolve());
            }
            return ModelResolver.resolve(name, withDownload.resolve());
        } catch (HubException e) {
            // The library's hint names its builder; here the switch is --download.
            if (e.getMessage() != null && e.getMessage().contains(ModelResolver.DOWNLOAD_HINT)) {
                throw new IllegalArgumentException(
                        e.getMessage().replace(ModelResolver.DOWNLOAD_HINT, "add --download"), e);
            }
            throw e;
        } finally {
            progress.close();
        }
    }

    /** Whether the model directory has a tokenizer (weights-only folders, such as benchmark checkpoints, do not). */
    static boolean hasTokenizer(Path dir) {
        if (Files.isRegularFile(dir)) {
            return true; // a GGUF file carries its vocabulary in its metadata
        }
        return Files.isRegularFile(dir.resolve(Tokenizer.TOKENIZER_JSON));
    }

    /** The engine alone (no tokenizer needed), for token-level commands and checkpoints without a tokenizer. */
    Engine loadEngine() {
        return loadEngine(directory());
    }

    Engine loadEngine(Path dir) {
        long t0 = System.nanoTime();
        Engine engine = Engine.open(dir, options());
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
        return load(directory());
    }

    FalconMamba load(Path dir) {
        long t0 = System.nanoTime();
        FalconMamba fm = FalconMamba.load(dir, options());
        Progress.note(String.format("loaded %s in %.2f s", fm.directory(), (System.nanoTime() - t0) / 1e9));
        return fm;
    }
}
