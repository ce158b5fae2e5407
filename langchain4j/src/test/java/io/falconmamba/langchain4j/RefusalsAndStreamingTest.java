package io.falconmamba.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import io.falconmamba.Completion;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What the chat models refuse, how streams end, and concurrent callers. */
class RefusalsAndStreamingTest {

    private static final FalconMambaChatModel MODEL = FalconMambaChatModel.builder()
            .model(Models.DEMO)
            .temperature(0.0)
            .maxOutputTokens(8)
            .build();

    private static final FalconMambaStreamingChatModel STREAMING = FalconMambaStreamingChatModel.builder()
            .model(Models.DEMO)
            .temperature(0.0)
            .maxOutputTokens(8)
            .build();

    private static ChatRequest.Builder request(String text) {
        return ChatRequest.builder().messages(UserMessage.from(text));
    }

    private static void assertRefused(ChatRequest request, String expectedInMessage) {
        UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class, () -> MODEL.chat(request));
        assertTrue(e.getMessage().contains(expectedInMessage), e.getMessage());
    }

    @Test
    void toolsImagesJsonAndPenaltiesAreRefused() {
        ToolSpecification tool = ToolSpecification.builder()
                .name("weather")
                .description("the weather")
                .build();
        assertRefused(request("hi").toolSpecifications(tool).build(), "tool calling");
        assertRefused(
                ChatRequest.builder()
                        .messages(UserMessage.from(
                                TextContent.from("what is this?"), ImageContent.from("https://example.com/a.png")))
                        .build(),
                "image");
        JsonSchema schema = JsonSchema.builder()
                .name("answer")
                .rootElement(JsonObjectSchema.builder().build())
                .build();
        assertRefused(
                request("hi")
                        .responseFormat(ResponseFormat.builder()
                                .type(ResponseFormatType.JSON)
                                .jsonSchema(schema)
                                .build())
                        .build(),
                "JSON schema");
        assertRefused(request("hi").responseFormat(ResponseFormat.JSON).build(), "JSON response format");
        assertRefused(request("hi").frequencyPenalty(0.5).build(), "frequencyPenalty");
        assertRefused(request("hi").presencePenalty(0.5).build(), "presencePenalty");
        assertRefused(
                ChatRequest.builder()
                        .messages(
                                UserMessage.from("hi"),
                                AiMessage.from(dev.langchain4j.agent.tool.ToolExecutionRequest.builder()
                                        .name("weather")
                                        .arguments("{}")
                                        .build()),
                                ToolExecutionResultMessage.from("1", "weather", "sunny"))
                        .build(),
                "tool calling");
        InvalidRequestException other = assertThrows(
                InvalidRequestException.class,
                () -> MODEL.chat(request("hi").modelName("gpt-4o").build()));
        assertTrue(other.getMessage().contains("gpt-4o"), other.getMessage());
        assertThrows(
                InvalidRequestException.class,
                () -> MODEL.chat(request("hi").temperature(-1.0).build()));
    }

    static final class Weather {
        @Tool("the weather in a city")
        String weather(String city) {
            return "sunny";
        }
    }

    interface Assistant {
        String chat(String message);
    }

    @Test
    void anAiServiceWithToolsIsRefusedNotAnsweredWithoutThem() {
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(MODEL)
                .tools(new Weather())
                .build();
        UnsupportedFeatureException e =
                assertThrows(UnsupportedFeatureException.class, () -> assistant.chat("Weather in Paris?"));
        assertTrue(e.getMessage().contains("1 tool specification"), e.getMessage());
    }

    /** Collects callbacks; {@link #done} completes on the first terminal one. */
    private static class Recorder implements StreamingChatResponseHandler {
        final List<String> pieces = new ArrayList<>();
        final AtomicInteger terminal = new AtomicInteger();
        final CompletableFuture<Object> done = new CompletableFuture<>();

        @Override
        public void onPartialResponse(String partialResponse) {
            pieces.add(partialResponse);
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            terminal.incrementAndGet();
            done.complete(response);
        }

        @Override
        public void onError(Throwable error) {
            terminal.incrementAndGet();
            done.complete(error);
        }
    }

    @Test
    void aRefusedStreamingRequestEndsInOnError() throws Exception {
        Recorder r = new Recorder();
        STREAMING.chat(request("hi").frequencyPenalty(1.0).build(), r);
        assertInstanceOf(UnsupportedFeatureException.class, r.done.get(10, TimeUnit.SECONDS));
        assertEquals(1, r.terminal.get());
        assertTrue(r.pieces.isEmpty());
    }

    @Test
    void aHandlerThatThrowsStopsTheStreamWithOneOnError() throws Exception {
        Recorder r = new Recorder() {
            @Override
            public void onPartialResponse(String partialResponse) {
                super.onPartialResponse(partialResponse);
                throw new IllegalStateException("the client went away");
            }
        };
        STREAMING.chat(request("In the beginning").build(), r);
        Object outcome = r.done.get(30, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, outcome);
        Thread.sleep(200); // no late callback may follow
        assertEquals(1, r.terminal.get());
        assertEquals(1, r.pieces.size(), "no piece after the failing one");
    }

    @Test
    void cancellingFromThePartialResponseStopsWithoutFurtherCallbacks() throws Exception {
        CountDownLatch first = new CountDownLatch(1);
        Recorder r = new Recorder() {
            @Override
            public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                super.onPartialResponse(partial.text());
                context.streamingHandle().cancel();
                first.countDown();
            }
        };
        STREAMING.chat(request("In the beginning").build(), r);
        assertTrue(first.await(30, TimeUnit.SECONDS));
        Thread.sleep(500);
        assertEquals(0, r.terminal.get(), "a cancelled stream ends silently");
        assertEquals(1, r.pieces.size());
    }

    @Test
    void theResponseCarriesUsageAndFinishReason() {
        ChatResponse response = MODEL.chat(request("In the beginning").build());
        Completion c = Models.DEMO.generate("In the beginning", Models.greedy(Models.DEMO, 8));
        assertEquals(c.promptIds().length, response.tokenUsage().inputTokenCount());
        assertEquals(8, response.tokenUsage().outputTokenCount());
        assertEquals(FinishReason.LENGTH, response.finishReason());
        assertEquals("demo-kjv", response.metadata().modelName());
        assertFalse(response.aiMessage().hasToolExecutionRequests());

        ChatResponse stopped = MODEL.chat(
                request("In the beginning").stopSequences(List.of(" ")).build());
        assertEquals(FinishReason.STOP, stopped.finishReason());
        // The reply stops at the first token whose text holds the stop sequence, and keeps it, as generate does.
        String text = stopped.aiMessage().text();
        assertEquals(1, Models.DEMO.tokenizer().encode(text, false).length, text);
        assertTrue(text.contains(" "), text);
    }

    @Test
    void concurrentCallersGetWhatSequentialCallsGet() throws Exception {
        String[] prompts = {"In the beginning", "And God said,", "And the LORD", "Then Moses"};
        String[] expected = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            expected[i] = Models.DEMO
                    .generate(prompts[i], Models.greedy(Models.DEMO, 8))
                    .text();
        }
        ExecutorService pool = Executors.newFixedThreadPool(prompts.length);
        try {
            List<Future<String>> replies = new ArrayList<>();
            for (String p : prompts) {
                replies.add(pool.submit(() -> MODEL.chat(p)));
            }
            for (int i = 0; i < prompts.length; i++) {
                assertEquals(expected[i], replies.get(i).get(60, TimeUnit.SECONDS), prompts[i]);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
