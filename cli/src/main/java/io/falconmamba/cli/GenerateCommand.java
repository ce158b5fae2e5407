package io.falconmamba.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code generate}: text from a prompt, streamed to stdout as it is produced. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description =
                "Generate text from a prompt (from --prompt, --prompt-ids, --prompt-file or stdin), streaming it to stdout.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @ArgGroup(exclusive = true)
    PromptSource source;

    static final class PromptSource {
        @Option(
                names = {"-p", "--prompt"},
                paramLabel = "TEXT",
                description = "The prompt text.")
        String text;

        @Option(names = "--prompt-ids", paramLabel = "IDS", description = "The prompt as token ids: 1,2,3.")
        String ids;

        @Option(names = "--prompt-file", paramLabel = "FILE", description = "Read the prompt text from FILE (UTF-8).")
        Path file;
    }

    @Option(
            names = "--json",
            description = "Print one JSON object {prompt_ids, ids, text, stop_reason} instead of streaming.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        Progress.quiet(json);
        String promptText = null;
        int[] promptIds = null;
        if (source != null && source.ids != null) {
            promptIds = Ids.parse(source.ids, "--prompt-ids");
        } else if (source != null && source.file != null) {
            promptText = readPromptFile(source.file);
        } else if (source != null && source.text != null) {
            promptText = source.text;
        } else if (System.console() == null) {
            promptText = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        } else {
            throw new IllegalArgumentException(
                    "no prompt: give --prompt TEXT, --prompt-ids IDS, --prompt-file FILE or pipe text to stdin");
        }
        try (FalconMamba fm = modelOptions.load()) {
            GenerationConfig config = sampling.apply(fm.defaults());
            if (promptIds == null) {
                promptIds = fm.tokenizer().encode(promptText, true);
            }
            if (promptIds.length == 0) {
                throw new IllegalArgumentException("the prompt is empty: nothing to continue from");
            }
            CancellationToken cancel = new CancellationToken();
            Thread hook = new Thread(cancel::cancel);
            Runtime.getRuntime().addShutdownHook(hook);
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            Completion c;
            Progress progress = new Progress();
            me.tongfei.progressbar.ProgressBar bar = progress.prefillBar(promptIds.length);
            try {
                c = fm.generateIds(
                        promptIds,
                        config,
                        json
                                ? null
                                : piece -> {
                                    out.print(piece);
                                    out.flush();
                                },
                        cancel,
                        bar == null ? null : (fed, total) -> bar.stepTo(fed));
            } finally {
                if (bar != null) {
                    bar.close();
                }
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // already shutting down
                }
            }
            if (json) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode o = m.createObjectNode();
                o.set("prompt_ids", m.valueToTree(c.promptIds()));
                o.set("ids", m.valueToTree(c.ids()));
                o.put("text", c.text());
                o.put("stop_reason", c.stopReason().name().toLowerCase(java.util.Locale.ROOT));
                out.println(m.writeValueAsString(o));
            } else {
                out.println();
                Progress.note(String.format(
                        "[%d prompt tokens, %d generated, %.1f tokens/s, stop: %s]",
                        c.promptIds().length,
                        c.ids().length,
                        c.stats().tokensPerSecond(),
                        c.stopReason().name().toLowerCase(java.util.Locale.ROOT)));
            }
        }
        return 0;
    }

    private static String readPromptFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read prompt file " + file + ": " + Errors.describe(e));
        }
    }
}
