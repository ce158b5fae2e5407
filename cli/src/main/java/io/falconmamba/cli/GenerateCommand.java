package io.falconmamba.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.Completion;
import io.falconmamba.Engine;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.Generator;
import io.falconmamba.core.generation.StopReason;
import io.falconmamba.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
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
        modelOptions.validate();
        sampling.validate();
        String promptText = null;
        int[] promptIds = null;
        if (source != null && source.ids != null) {
            promptIds = Ids.parse(source.ids, "--prompt-ids");
        } else if (source != null && source.file != null) {
            promptText = readPromptFile(source.file);
        } else if (source != null && source.text != null) {
            promptText = source.text;
        } else if (System.console() == null) {
            promptText = Utf8.decode(System.in.readAllBytes(), "standard input");
        } else {
            throw new UsageException(
                    "no prompt: give --prompt TEXT, --prompt-ids IDS, --prompt-file FILE or pipe text to stdin");
        }
        Path dir = modelOptions.directory();
        if (promptIds != null && !ModelOptions.hasTokenizer(dir)) {
            return generateWithoutTokenizer(dir, promptIds);
        }
        try (FalconMamba fm = modelOptions.load(dir)) {
            GenerationConfig config = sampling.apply(fm.defaults(), fm.config().vocabSize());
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
                out.println(json(c.promptIds(), c.ids(), c.text(), c.stopReason()));
            } else {
                out.println();
                summary(c.promptIds().length, c.ids().length, c.stats().tokensPerSecond(), c.stopReason());
            }
        }
        return 0;
    }

    /**
     * Token ids in and out on a checkpoint without a tokenizer (benchmark checkpoints, weights-only folders): the
     * text output says it cannot detokenize and prints the ids; --json carries them with a null text.
     */
    private int generateWithoutTokenizer(Path dir, int[] promptIds) throws IOException {
        if (sampling.stop != null) {
            throw new UsageException(
                    "--stop needs a tokenizer to match text, and " + dir + " has no " + Tokenizer.TOKENIZER_JSON);
        }
        try (Engine engine = modelOptions.loadEngine(dir)) {
            GenerationConfig config =
                    sampling.apply(engine.generationDefaults(), engine.config().vocabSize());
            CancellationToken cancel = new CancellationToken();
            Thread hook = new Thread(cancel::cancel);
            Runtime.getRuntime().addShutdownHook(hook);
            GenerationResult r;
            try {
                r = Generator.generate(engine.model(), promptIds, config, null, null, cancel);
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // already shutting down
                }
            }
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            if (json) {
                out.println(json(promptIds, r.tokens(), null, r.stopReason()));
            } else {
                Progress.note("cannot detokenize: " + dir + " has no " + Tokenizer.TOKENIZER_JSON
                        + "; the generated token ids follow");
                out.println(Ids.json(r.tokens()));
                summary(promptIds.length, r.tokenCount(), r.tokensPerSecond(), r.stopReason());
            }
        }
        return 0;
    }

    private static String json(int[] promptIds, int[] ids, String text, StopReason reason) throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode o = m.createObjectNode();
        o.set("prompt_ids", m.valueToTree(promptIds));
        o.set("ids", m.valueToTree(ids));
        o.put("text", text);
        o.put("stop_reason", reason.name().toLowerCase(Locale.ROOT));
        return m.writeValueAsString(o);
    }

    private static void summary(int promptTokens, int generated, double tokensPerSecond, StopReason reason) {
        Progress.note(String.format(
                "[%d prompt tokens, %d generated, %.1f tokens/s, stop: %s]",
                promptTokens, generated, tokensPerSecond, reason.name().toLowerCase(Locale.ROOT)));
    }

    private static String readPromptFile(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read prompt file " + file + ": " + Errors.describe(e));
        }
        return Utf8.decode(bytes, "prompt file " + file);
    }
}
