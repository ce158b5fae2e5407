package io.falconmamba.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.TokenStream;
import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** LangChain4j AI services over the demo model (no chat template) and a fixture with a ChatML template. */
class AiServicesTest {

    private static final int MAX = 24;

    interface Assistant {
        String chat(String message);
    }

    interface StreamingAssistant {
        TokenStream chat(String message);
    }

    private static FalconMambaChatModel chatModel(FalconMamba model, List<ChatModelListener> listeners) {
        return FalconMambaChatModel.builder()
                .model(model)
                .temperature(0.0)
                .maxOutputTokens(MAX)
                .listeners(listeners)
                .build();
    }

    private static FalconMambaStreamingChatModel streamingModel(FalconMamba model) {
        return FalconMambaStreamingChatModel.builder()
                .model(model)
                .temperature(0.0)
                .maxOutputTokens(MAX)
                .build();
    }

    /** Streams one reply; checks that the pieces make the text and that it completes exactly once. */
    private static String stream(StreamingAssistant assistant, String message) throws Exception {
        StringBuilder pieces = new StringBuilder();
        List<String> pieceList = new ArrayList<>();
        AtomicInteger completions = new AtomicInteger();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        assistant
                .chat(message)
                .onPartialResponse(p -> {
                    pieces.append(p);
                    pieceList.add(p);
                })
                .onCompleteResponse(r -> {
                    completions.incrementAndGet();
                    done.complete(r);
                })
                .onError(done::completeExceptionally)
                .start();
        ChatResponse response = done.get(60, TimeUnit.SECONDS);
        for (String piece : pieceList) {
            // Whole characters: no piece starts or ends inside a surrogate pair or a UTF-8 sequence.
            assertFalse(Character.isLowSurrogate(piece.charAt(0)), piece);
            assertFalse(Character.isHighSurrogate(piece.charAt(piece.length() - 1)), piece);
            assertFalse(piece.contains("\uFFFD") && !response.aiMessage().text().contains("\uFFFD"), piece);
        }
        assertEquals(response.aiMessage().text(), pieces.toString(), "the partial responses make the reply");
        assertEquals(1, completions.get());
        return response.aiMessage().text();
    }

    @Test
    void theDemoModelContinuesThePromptAsGenerateDoes() throws Exception {
        String expected = Models.DEMO
                .generate("In the beginning", Models.greedy(Models.DEMO, MAX))
                .text();
        assertFalse(expected.isBlank());
        Assistant assistant = AiServices.create(Assistant.class, chatModel(Models.DEMO, List.of()));
        assertEquals(expected, assistant.chat("In the beginning"));

        StreamingAssistant streaming = AiServices.create(StreamingAssistant.class, streamingModel(Models.DEMO));
        assertEquals(expected, stream(streaming, "In the beginning"));
    }

    @Test
    void aTemplatedModelRepliesAsChatDoes() throws Exception {
        String message = "What is a selective state space?";
        String expected = Models.TEMPLATED
                .chat(List.of(ChatMessage.user(message)), Models.greedy(Models.TEMPLATED, MAX))
                .text();
        assertFalse(expected.isEmpty());
        Assistant assistant = AiServices.create(Assistant.class, chatModel(Models.TEMPLATED, List.of()));
        assertEquals(expected, assistant.chat(message));

        StreamingAssistant streaming = AiServices.create(StreamingAssistant.class, streamingModel(Models.TEMPLATED));
        assertEquals(expected, stream(streaming, message));
    }

    /** Records the prefill count of every response. */
    private static final class PrefillCounter implements ChatModelListener {
        final List<Integer> prefilled = new ArrayList<>();
        final List<Integer> promptTokens = new ArrayList<>();

        @Override
        public void onResponse(ChatModelResponseContext context) {
            var metadata =
                    (FalconMambaChatResponseMetadata) context.chatResponse().metadata();
            prefilled.add(metadata.prefilledTokens());
            promptTokens.add(metadata.tokenUsage().inputTokenCount());
        }
    }

    @Test
    void aFiveTurnChatWithMemoryPrefillsOnlyEachTurnsNewTokens() {
        PrefillCounter counter = new PrefillCounter();
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(chatModel(Models.TEMPLATED, List.of(counter)))
                .chatMemory(MessageWindowChatMemory.withMaxMessages(20))
                .build();
        // The same conversation in a ChatSession, which keeps one state across turns: the reference replies.
        ChatSession session = Models.TEMPLATED.newSession();
        String[] turns = {"Hello there", "What is a state space model?", "And Mamba?", "Why recurrent?", "Thanks!"};
        for (int i = 0; i < turns.length; i++) {
            String reply = assistant.chat(turns[i]);
            Completion reference = session.send(turns[i], Models.greedy(Models.TEMPLATED, MAX));
            assertEquals(reference.text(), reply, "turn " + i);
            // Counted independently: ChatML renders each message alone, so a turn's new tokens are its user
            // message's rendering with the assistant prompt; the first turn feeds the whole prompt.
            int own = Models.TEMPLATED.tokenizer().encodeChat(List.of(ChatMessage.user(turns[i])), true).length;
            assertEquals(own, counter.prefilled.get(i), "turn " + i + " prefilled");
            if (i > 0) {
                assertTrue(counter.promptTokens.get(i) > counter.promptTokens.get(i - 1) + own, "the history grows");
            }
        }
    }

    @Test
    void aFiveTurnContinuationOnTheDemoMatchesGenerateAndPrefillsOnlyTheNewText() {
        PrefillCounter counter = new PrefillCounter();
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(chatModel(Models.DEMO, List.of(counter)))
                .chatMemory(MessageWindowChatMemory.withMaxMessages(20))
                .build();
        String[] turns = {"In the beginning", "\nAnd God said,", "\nAnd the LORD", "\nAnd Moses", "\nThen"};
        StringBuilder conversation = new StringBuilder();
        int consumed = 0; // prompt and reply tokens of the previous turn
        for (int i = 0; i < turns.length; i++) {
            conversation.append(turns[i]);
            Completion fresh = Models.DEMO.generate(conversation.toString(), Models.greedy(Models.DEMO, MAX));
            String reply = assistant.chat(turns[i]);
            assertEquals(fresh.text(), reply, "turn " + i);
            assertEquals(fresh.promptIds().length - consumed, counter.prefilled.get(i), "turn " + i + " prefilled");
            conversation.append(reply);
            consumed = fresh.promptIds().length + fresh.ids().length;
        }
    }
}
