package io.falconmamba.examples;

import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.tokenizer.ChatMessage;
import java.util.List;

/** The README's "Streaming, chat, sessions, batches" section, compiled and run by ReadmeTourTest. */
public final class ReadmeTour {

    private ReadmeTour() {}

    /** Runs the tour on a model with a chat template; returns what it produced, for the test. */
    public static List<Completion> run(String model) {
        // README-TOUR-START
        try (FalconMamba fm =
                FalconMamba.load(model)) { // a directory, or e.g. "tiiuae/falcon-mamba-7b-instruct" from the HF cache
            GenerationConfig cfg = fm.defaults().toBuilder()
                    .doSample(true)
                    .temperature(0.7)
                    .topP(0.9)
                    .seed(42) // seeded sampling repeats exactly
                    .maxNewTokens(40)
                    .stopStrings("\n\n") // stop on text, checked on the decoded output
                    .prefillMode(PrefillMode.chunked(256)) // or PrefillMode.PARALLEL
                    .build();

            // Streaming: whole UTF-8 characters as soon as they are final.
            Completion story = fm.generate("Write a haiku about the sea.", cfg, piece -> System.out.print(piece));

            // Chat through the checkpoint's chat template (ChatML for falcon-mamba-7b-instruct).
            Completion reply = fm.chat(List.of(ChatMessage.user("What is a state-space model?")), cfg);

            // Sessions keep their state: a turn costs only its new tokens, never a re-prefill of the history.
            ChatSession chat = fm.newSession();
            chat.addMessage(new ChatMessage("system", "You are terse.")); // prefilled once...
            byte[] afterSystemPrompt = chat.snapshot(); // ...and reused for every request
            Completion rivers = chat.send("Name three rivers.", cfg);
            ChatSession branch = chat.fork(); // an independent copy of the state
            ChatSession again = fm.restoreSession(afterSystemPrompt);
            Completion riversAgain = again.send("Name three rivers.", cfg);

            // Batches: each decode step reads every weight once for all sequences.
            List<Completion> batch = fm.generateBatch(List.of("Once upon a time", "The theorem states"), cfg);
            // README-TOUR-END
            branch.send("And three mountains?", cfg);
            return List.of(story, reply, rivers, riversAgain, batch.get(0), batch.get(1));
        }
    }
}
