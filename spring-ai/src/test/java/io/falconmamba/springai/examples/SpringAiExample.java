package io.falconmamba.springai.examples;

import io.falconmamba.springai.FalconMambaChatModel;
import java.nio.file.Path;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.MessageWindowChatMemory;
import org.springframework.ai.chat.prompt.ChatOptions;
import reactor.core.publisher.Flux;

/**
 * The Spring AI example that docs/langchain4j.md quotes (the lines between the marker comments), compiled and run by
 * {@code SpringAiExampleTest}. Run it with a model directory (default: the demo model, from the repository root).
 */
public final class SpringAiExample {

    private SpringAiExample() {}

    public static void main(String[] args) {
        // SPRING-AI-EXAMPLE-START
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/models/demo-kjv");
        ChatOptions greedy =
                ChatOptions.builder().temperature(0.0).maxTokens(32).build();
        try (FalconMambaChatModel model = FalconMambaChatModel.builder()
                .modelPath(dir)
                .defaultOptions(greedy)
                .build()) {
            var memory = MessageChatMemoryAdvisor.builder(
                            MessageWindowChatMemory.builder().build())
                    .build();
            ChatClient chat = ChatClient.builder(model).defaultAdvisors(memory).build();
            System.out.println(chat.prompt().user("In the beginning").call().content());
            // Streamed as it is generated; the memory resends the conversation, only the new message is prefilled.
            Flux<String> reply = chat.prompt().user("\nAnd God said,").stream().content();
            reply.doOnNext(System.out::print).blockLast();
            System.out.println();
        }
        // SPRING-AI-EXAMPLE-END
    }
}
