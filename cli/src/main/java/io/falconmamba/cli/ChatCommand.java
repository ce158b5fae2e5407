package io.falconmamba.cli;

import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.StopReason;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code chat}: an interactive conversation that keeps its state across turns. A model without a chat template
 * (a base model such as the demo) is run as plain continuation: each line is appended and continued.
 */
@Command(
        name = "chat",
        mixinStandardHelpOptions = true,
        description = "Interactive chat through the model's chat template, keeping the state across turns. "
                + "Commands: /reset, /save FILE, /load FILE, /quit. Ctrl-C stops a reply; twice at the prompt, exits.")
final class ChatCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message to start the conversation with.")
    String system;

    private final ReplInterrupts interrupts = new ReplInterrupts();

    @Override
    @SuppressWarnings("try") // the Ctrl-C handler is held for the REPL's lifetime, not used by name
    public Integer call() throws IOException {
        modelOptions.validate();
        sampling.validate();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        boolean interactive = System.console() != null;
        try (FalconMamba fm = modelOptions.load();
                Sigint sigint = Sigint.handle(this::onInterrupt)) {
            GenerationConfig config = sampling.apply(fm.defaults(), fm.config().vocabSize());
            boolean templated = fm.tokenizer().chatTemplate().isPresent();
            if (!templated) {
                Progress.note("this model has no chat template: each line is appended as plain text and continued");
            }
            ChatSession session = newSession(fm);
            while (true) {
                if (interactive) {
                    out.print("> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals("/quit") || line.strip().equals("/exit")) {
                    break;
                }
                interrupts.lineRead();
                String cmd = line.strip();
                if (cmd.isEmpty()) {
                    continue;
                }
                // A failing command or turn is reported and the conversation goes on: nothing typed ends the REPL.
                try {
                    session = step(fm, session, line, config, templated, out);
                } catch (IOException | RuntimeException e) {
                    out.println();
                    Progress.note("error: " + Errors.describe(e));
                }
            }
        }
        return 0;
    }

    /** Runs one line (a command or a turn); returns the session to go on with. */
    private ChatSession step(
            FalconMamba fm,
            ChatSession session,
            String line,
            GenerationConfig config,
            boolean templated,
            PrintStream out)
            throws IOException {
        String cmd = line.strip();
        if (cmd.equals("/reset")) {
            Progress.note("(conversation reset)");
            return newSession(fm);
        }
        if (cmd.startsWith("/save ")) {
            Path file = Path.of(cmd.substring(6).strip());
            try {
                Files.write(file, session.snapshot());
            } catch (IOException e) {
                throw new IOException("cannot save to " + file + ": " + Errors.describe(e), e);
            }
            Progress.note("(saved " + session.length() + " tokens of state to " + file + ")");
            return session;
        }
        if (cmd.startsWith("/load ")) {
            Path file = Path.of(cmd.substring(6).strip());
            try {
                ChatSession loaded = fm.restoreSession(Files.readAllBytes(file));
                Progress.note("(restored " + loaded.length() + " tokens of state from " + file + ")");
                return loaded;
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("cannot load " + file + ": " + Errors.describe(e), e);
            }
        }
        if (cmd.startsWith("/")) {
            Progress.note("unknown command " + cmd + " (commands: /reset, /save FILE, /load FILE, /quit)");
            return session;
        }
        CancellationToken cancel = interrupts.replyStarted();
        Completion c;
        try {
            if (templated) {
                c = session.send(line, config, piece -> out.print(piece), cancel);
            } else {
                session.append(line);
                c = session.generate(config, piece -> out.print(piece), cancel);
            }
        } finally {
            interrupts.replyEnded();
        }
        out.println();
        out.flush();
        Progress.note(String.format(
                "[%d tokens, %.1f tokens/s, state holds %d tokens%s]",
                c.ids().length,
                c.stats().tokensPerSecond(),
                session.length(),
                c.stopReason() == StopReason.CANCELLED ? ", reply cancelled" : ""));
        return session;
    }

    /** Ctrl-C: see {@link ReplInterrupts}. */
    private void onInterrupt() {
        switch (interrupts.interrupt()) {
            case CANCELLED_REPLY -> {}
            case WARNED -> Progress.note("\n(Ctrl-C again to exit, or /quit)");
            case EXIT -> {
                System.out.println();
                System.exit(130);
            }
        }
    }

    private ChatSession newSession(FalconMamba fm) {
        ChatSession s = fm.newSession();
        if (system != null && fm.tokenizer().chatTemplate().isPresent()) {
            s.addMessage(new io.falconmamba.tokenizer.ChatMessage("system", system));
        }
        return s;
    }
}
