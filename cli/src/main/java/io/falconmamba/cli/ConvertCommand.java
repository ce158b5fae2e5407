package io.falconmamba.cli;

import io.falconmamba.hub.ModelResolver;
import io.falconmamba.hub.ResolveOptions;
import io.falconmamba.loader.gguf.GgmlType;
import io.falconmamba.loader.gguf.GgufConverter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code convert}: a Hugging Face checkpoint written as one GGUF file llama.cpp reads. */
@Command(
        name = "convert",
        mixinStandardHelpOptions = true,
        description = "Write a Hugging Face checkpoint (directory or repo id) as a GGUF file: weights in the chosen"
                + " type, hyper-parameters, tokenizer and chat template, in llama.cpp's layout.")
final class ConvertCommand implements Callable<Integer> {

    /** The types this build writes, by their llama.cpp names. */
    static final List<String> TYPES = List.of("f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k");

    @Option(
            names = {"-m", "--model"},
            required = true,
            paramLabel = "DIR|REPO",
            description = "Model directory or Hugging Face repo id (org/name, found in the HF cache).")
    String model;

    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "The GGUF file to write.")
    Path out;

    @Option(
            names = "--type",
            paramLabel = "TYPE",
            defaultValue = "f16",
            description =
                    "Type of the weight matrices: f32, f16, bf16, q8_0, q4_0, q4_k or q6_k (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--threads", paramLabel = "N", description = "Quantizing threads (default: all cores).")
    Integer threads;

    @Option(names = "--download", description = "Allow downloading a repo id missing from the Hugging Face cache.")
    boolean download;

    @Override
    public Integer call() throws Exception {
        String t = type.toLowerCase(Locale.ROOT);
        if (!TYPES.contains(t)) {
            throw new IllegalArgumentException(
                    "--type " + type + " is not one this build writes: " + String.join(", ", TYPES));
        }
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        Path dir;
        try (Progress downloads = Progress.forDownloads()) {
            dir = ModelResolver.resolve(
                    model,
                    ResolveOptions.builder()
                            .allowDownload(download)
                            .listener(download ? downloads : null)
                            .build());
        }
        long t0 = System.nanoTime();
        String label = "convert " + out.getFileName();
        boolean terminal = System.console() != null;
        int[] lastDecile = {-1};
        try (Progress progress = new Progress()) {
            GgufConverter.convert(dir, out, GgmlType.valueOf(t.toUpperCase(Locale.ROOT)), n, (done, total) -> {
                if (terminal) {
                    progress.onProgress(label, done, total);
                } else if (total > 0 && (int) (10 * done / total) > lastDecile[0]) {
                    lastDecile[0] = (int) (10 * done / total);
                    Progress.note(label + ": " + 10 * lastDecile[0] + " %");
                }
            });
        }
        Progress.note(String.format("wrote %s (%s) in %.2f s", out, t, (System.nanoTime() - t0) / 1e9));
        return 0;
    }
}
