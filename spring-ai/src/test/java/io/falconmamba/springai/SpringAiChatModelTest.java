package io.falconmamba.springai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.ChatSession;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.testkit.TestData;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.MessageWindowChatMemory;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.content.Media;
import org.springframework.ai.tool.annotation.Tool;
import org.springframework.util.MimeTypeUtils;

/** Spring AI's ChatClient over the demo model (no chat template) and a fixture with a ChatML template. */
class SpringAiChatModelTest {

    private static final int MAX = 24;
    private static final FalconMamba DEMO =
            FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1));
    private static final FalconMamba TEMPLATED = FalconMamba.load(
            TestData.fixture("tiny-falcon-mamba"), LoadOptions.defaults().withThreads(1));

    @AfterAll
    static void close() {
        DEMO.close();
        TEMPLATED.close();
    }

    private static FalconMambaChatModel greedyModel(FalconMamba model) {
        return FalconMambaChatModel.builder()
                .model(model)
                .defaultOptions(
                        ChatOptions.builder().temperature(0.0).maxTokens(MAX).build())
                .build();
    }

    private static GenerationConfig greedy(FalconMamba model) {
        return model.defaults().toBuilder().doSample(false).maxNewTokens(MAX).build();
    }

    private static String streamed(ChatClient client, String message) {
        List<String> pieces =
                client.prompt().user(message).stream().content().collectList().block();
        return String.join("", pieces);
    }

    @Test
    void theDemoModelContinuesThePromptAsGenerateDoes() {
        String expected = DEMO.generate("In the beginning", greedy(DEMO)).text();
        ChatClient client = ChatClient.create(greedyModel(DEMO));
        assertEquals(expected, client.prompt().user("In the beginning").call().content());
        assertEquals(expected, streamed(client, "In the beginning"));
    }

    @Test
    void aTemplatedModelRepliesAsChatDoes() {
        String message = "What is a selective state space?";
        String expected = TEMPLATED
                .chat(List.of(io.falconmamba.tokenizer.ChatMessage.user(message)), greedy(TEMPLATED))
                .text();
        assertFalse(expected.isEmpty());
        ChatClient client = ChatClient.create(greedyModel(TEMPLATED));
        assertEquals(expected, client.prompt().user(message).call().content());
        assertEquals(expected, streamed(client, message));
    }

    @Test
    void theLastStreamedResponseCarriesFinishReasonAndUsage() {
        List<ChatResponse> chunks = greedyModel(DEMO).stream(new Prompt("In the beginning"))
                .collectList()
                .block();
        ChatResponse last = chunks.get(chunks.size() - 1);
        assertEquals("LENGTH", last.getResult().getMetadata().getFinishReason());
        assertEquals(MAX, last.getMetadata().getUsage().getCompletionTokens());
        assertEquals(
                DEMO.generate("In the beginning", greedy(DEMO)).promptIds().length,
                last.getMetadata().getUsage().getPromptTokens());
    }

    @Test
    void aFiveTurnChatWithMemoryPrefillsOnlyEachTurnsNewTokens() {
        ChatClient client = ChatClient.builder(greedyModel(TEMPLATED))
                .defaultAdvisors(MessageChatMemoryAdvisor.builder(MessageWindowChatMemory.builder()
                                .maxMessages(20)
                                .build())
                        .build())
                .build();
        ChatSession session = TEMPLATED.newSession();
        String[] turns = {"Hello there", "What is a state space model?", "And Mamba?", "Why recurrent?", "Thanks!"};
        for (int i = 0; i < turns.length; i++) {
            ChatResponse response = client.prompt().user(turns[i]).call().chatResponse();
            Completion reference = session.send(turns[i], greedy(TEMPLATED));
            assertEquals(reference.text(), response.getResult().getOutput().getText(), "turn " + i);
            // ChatML renders each message alone: a turn's new tokens are its user message's rendering.
            int own = TEMPLATED
                    .tokenizer()
                    .encodeChat(List.of(io.falconmamba.tokenizer.ChatMessage.user(turns[i])), true)
                    .length;
            int prefilled = response.getMetadata().get(FalconMambaChatModel.PREFILLED_TOKENS);
            assertEquals(own, prefilled, "turn " + i);
        }
    }

    static final class Weather {
        @Tool(description = "the weather in a city")
        String weather(String city) {
            return "sunny";
        }
    }

    @Test
    void toolsMediaAndPenaltiesAreRefused() {
        FalconMambaChatModel model = greedyModel(DEMO);
        ChatClient client = ChatClient.create(model);
        UnsupportedOperationException tools = assertThrows(
                UnsupportedOperationException.class,
                () -> client.prompt()
                        .user("Weather?")
                        .tools(new Weather())
                        .call()
                        .content());
        assertTrue(tools.getMessage().contains("tool calling"), tools.getMessage());

        UserMessage image = UserMessage.builder()
                .text("what is this?")
                .media(Media.builder()
                        .mimeType(MimeTypeUtils.IMAGE_PNG)
                        .data(new byte[] {1, 2, 3})
                        .build())
                .build();
        UnsupportedOperationException media =
                assertThrows(UnsupportedOperationException.class, () -> model.call(new Prompt(image)));
        assertTrue(media.getMessage().contains("media"), media.getMessage());

        Prompt penalised =
                new Prompt("hi", ChatOptions.builder().frequencyPenalty(0.5).build());
        assertThrows(UnsupportedOperationException.class, () -> model.call(penalised));
        // Streaming reports the refusal as the flux's error.
        assertThrows(
                UnsupportedOperationException.class,
                () -> model.stream(penalised).blockLast());
        assertThrows(
                IllegalArgumentException.class,
                () -> model.call(
                        new Prompt("hi", ChatOptions.builder().model("gpt-4o").build())));
        assertThrows(
                IllegalArgumentException.class,
                () -> model.call(
                        new Prompt("hi", ChatOptions.builder().topP(2.0).build())));
    }
}
