package io.falconmamba.cli;

import io.falconmamba.Engine;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.loader.TensorInfo;
import io.falconmamba.loader.gguf.GgufFile;
import io.falconmamba.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code info}: what a checkpoint is and what it costs to run. */
@Command(
        name = "info",
        mixinStandardHelpOptions = true,
        description = "Show a model's architecture, sizes, parameter count, dtype and memory needs "
                + "(for a .gguf file: its metadata and tensor types, read from the file alone).")
final class InfoCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    /** The tokenizer's size and whether it has a chat template, or that there is none. */
    private static String tokenizerSummary(java.nio.file.Path dir) {
        if (!ModelOptions.hasTokenizer(dir)) {
            return "none (no " + Tokenizer.TOKENIZER_JSON + "): token ids only";
        }
        try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
            return t.vocabSize() + " ids, chat template: " + (t.chatTemplate().isPresent() ? "yes" : "no");
        }
    }

    @Override
    public Integer call() {
        Progress.quiet(true);
        modelOptions.validate();
        Path path = Path.of(modelOptions.modelName());
        if (GgufFile.isGgufPath(path) && Files.isRegularFile(path)) {
            try (GgufFile f = GgufFile.open(path)) {
                GgufInfo.print(f, System.out);
            }
            return 0;
        }
        // The engine alone: info describes weights-only checkpoints too.
        try (Engine fm = modelOptions.loadEngine()) {
            ModelConfig mc = fm.config();
            MambaConfig c = mc.toMambaConfig();
            long params = 0;
            long bytes = 0;
            Map<String, Long> dtypes = new TreeMap<>();
            String pages;
            try (Checkpoint cp = Checkpoint.open(fm.directory())) {
                for (String name : cp.names()) {
                    TensorInfo t = cp.info(name);
                    params += t.elementCount();
                    bytes += t.byteSize();
                    dtypes.merge(t.dtype().name(), t.elementCount(), Long::sum);
                }
                pages = WeightPages.describe(fm.model(), cp); // the resident part: info reads no weights
            }
            System.out.printf("model:            %s%n", fm.directory());
            System.out.printf(
                    "architecture:     %s (%s)%n",
                    c.architecture().modelType(), c.tieWordEmbeddings() ? "tied embeddings" : "separate lm_head");
            System.out.printf("layers:           %d%n", c.numLayers());
            System.out.printf("hidden size:      %d%n", c.hiddenSize());
            System.out.printf("intermediate:     %d%n", c.intermediateSize());
            System.out.printf("state size:       %d%n", c.stateSize());
            System.out.printf("conv kernel:      %d%n", c.convKernel());
            System.out.printf("time step rank:   %d%n", c.timeStepRank());
            System.out.printf("vocabulary:       %d%n", c.vocabSize());
            System.out.printf("parameters:       %,d%n", params);
            System.out.printf(
                    "dtype:            %s%n",
                    dtypes.size() == 1 ? dtypes.keySet().iterator().next() : dtypes);
            System.out.printf("weight bytes:     %,d (%.2f GB)%n", bytes, bytes / 1e9);
            if (fm.model().quantization() != io.falconmamba.core.Quantization.NONE) {
                System.out.printf(
                        "quantized:        %s at load (off-heap)%n",
                        fm.model().quantization().label());
            }
            System.out.printf(
                    "storage:          %s%n",
                    fm.model().weightStorage() == io.falconmamba.core.WeightStorage.IN_MEMORY
                            ? "matrices copied into memory at load, F16/BF16 and GGUF Q8_0/Q4_0/Q4_K/Q6_K in row tiles"
                            : "matrices read in place from the mapped files");
            System.out.printf("read per token:   %,d bytes%n", fm.model().weightBytesPerToken());
            System.out.printf("weight pages:     %s%n", pages);
            System.out.printf(
                    "state/sequence:   %,d bytes (constant, whatever the context length)%n", c.stateBytesPerSequence());
            System.out.printf("tokenizer:        %s%n", tokenizerSummary(fm.directory()));
        }
        return 0;
    }
}
