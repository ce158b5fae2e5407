package io.falconmamba.cli;

import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
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
                + "Commands: /reset, /save FILE, /load FILE, /quit.")
final class ChatCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message to start the conversation with.")
    String system;

    @Override
    public Integer call() throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        boolean interactive = System.console() != null;
        try (FalconMamba fm = modelOptions.load()) {
            GenerationConfig config = sampling.apply(fm.defaults());
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
                String cmd = line.strip();
                if (cmd.isEmpty()) {
                    continue;
                }
                if (cmd.equals("/reset")) {
                    session = newSession(fm);
                    Progress.note("(conversation reset)");
                    continue;
                }
                if (cmd.startsWith("/save ")) {
                    Path file = Path.of(cmd.substring(6).strip());
                    Files.write(file, session.snapshot());
                    Progress.note("(saved " + session.length() + " tokens of state to " + file + ")");
                    continue;
                }
                if (cmd.startsWith("/load ")) {
                    Path file = Path.of(cmd.substring(6).strip());
                    try {
                        session = fm.restoreSession(Files.readAllBytes(file));
                        Progress.note("(restored " + session.length() + " tokens of state from " + file + ")");
                    } catch (IOException | IllegalArgumentException e) {
                        Progress.note("error: cannot load " + file + ": " + Errors.describe(e));
                    }
                    continue;
                }
                if (cmd.startsWith("/")) {
                    Progress.note("unknown command " + cmd + " (commands: /reset, /save FILE, /load FILE, /quit)");
                    continue;
                }
                Completion c;
                if (templated) {
                    c = session.send(line, config, piece -> out.print(piece), null);
                } else {
                    session.append(line);
                    c = session.generate(config, piece -> out.print(piece), null);
                }
                out.println();
                out.flush();
                Progress.note(String.format(
                        "[%d tokens, %.1f tokens/s, state holds %d tokens]",
                        c.ids().length, c.stats().tokensPerSecond(), session.length()));
            }
        }
        return 0;
    }

    private ChatSession newSession(FalconMamba fm) {
        ChatSession s = fm.newSession();
        if (system != null && fm.tokenizer().chatTemplate().isPresent()) {
            s.addMessage(new io.falconmamba.tokenizer.ChatMessage("system", system));
        }
        return s;
    }
}
