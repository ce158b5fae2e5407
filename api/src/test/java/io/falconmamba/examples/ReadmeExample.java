package io.falconmamba.examples;

import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import java.nio.file.Path;

/**
 * The README's usage example, compiled and run by {@code ReadmeExampleTest}. The README quotes the lines between
 * the marker comments verbatim. Run it with a model directory (default: the demo model, from the repository root).
 */
public final class ReadmeExample {

    private ReadmeExample() {}

    public static void main(String[] args) {
        // README-EXAMPLE-START
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/models/demo-kjv");
        try (FalconMamba model = FalconMamba.load(dir)) {
            // Greedy, 48 new tokens, no stop at end-of-text (the checkpoint's defaults sample).
            GenerationConfig greedy = model.defaults().toBuilder()
                    .doSample(false)
                    .maxNewTokens(48)
                    .stopTokenIds()
                    .build();

            // Stream the text as it is generated.
            Completion c = model.generate("In the beginning", greedy, piece -> System.out.print(piece));
            System.out.println("\n[" + c.ids().length + " tokens, " + c.stopReason() + "]");

            // A session keeps the recurrent state: each turn feeds only its new text.
            ChatSession session = model.newSession();
            session.append("And the LORD said unto Moses,");
            Completion first =
                    session.generate(greedy.toBuilder().maxNewTokens(12).build());
            session.append("\nAnd Moses said,");
            Completion second =
                    session.generate(greedy.toBuilder().maxNewTokens(12).build());
            System.out.println(first.text() + "\nAnd Moses said," + second.text());
        }
        // README-EXAMPLE-END
    }
}
