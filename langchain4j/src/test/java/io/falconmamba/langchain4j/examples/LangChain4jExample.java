package io.falconmamba.langchain4j.examples;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.service.AiServices;
import io.falconmamba.langchain4j.FalconMambaChatModel;
import java.nio.file.Path;

/**
 * The LangChain4j example that docs/langchain4j.md quotes (the lines between the marker comments), compiled and run by
 * {@code LangChain4jExampleTest}. Run it with a model directory (default: the demo model, from the repository root).
 */
public final class LangChain4jExample {

    private LangChain4jExample() {}

    public static void main(String[] args) {
        // LANGCHAIN4J-EXAMPLE-START
        interface Assistant {
            String chat(String message);
        }
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/models/demo-kjv");
        try (FalconMambaChatModel model = FalconMambaChatModel.builder()
                .modelPath(dir)
                .temperature(0.0) // greedy
                .maxOutputTokens(32)
                .build()) {
            Assistant assistant = AiServices.builder(Assistant.class)
                    .chatModel(model)
                    .chatMemory(MessageWindowChatMemory.withMaxMessages(10))
                    .build();
            System.out.println(assistant.chat("In the beginning"));
            System.out.println(assistant.chat("\nAnd God said,")); // prefills only the new message
        }
        // LANGCHAIN4J-EXAMPLE-END
    }
}
