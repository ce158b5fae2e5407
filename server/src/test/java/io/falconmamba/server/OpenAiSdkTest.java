package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.testkit.TestData;
import io.falconmamba.tokenizer.ChatMessage;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK against the server: the same text as the library gives for the same greedy request. */
class OpenAiSdkTest {

    static FalconMamba demo;
    static FalconMamba fixture;
    static FalconMambaServer demoServer;
    static FalconMambaServer fixtureServer;
    static OpenAIClient demoClient;
    static OpenAIClient fixtureClient;

    @BeforeAll
    static void start() throws IOException {
        demo = FalconMamba.load(TestData.demoModel());
        fixture = FalconMamba.load(TestData.fixture("tiny-falcon-mamba"));
        demoServer =
                FalconMambaServer.start(demo, ServerOptions.defaults("demo-kjv").withPort(0));
        fixtureServer =
                FalconMambaServer.start(fixture, ServerOptions.defaults("tiny").withPort(0));
        demoClient = client(demoServer);
        fixtureClient = client(fixtureServer);
    }

    static OpenAIClient client(FalconMambaServer server) {
        return OpenAIOkHttpClient.builder()
                .baseUrl(server.baseUri() + "/v1")
                .apiKey("unused")
                .maxRetries(0)
                .build();
    }

    @AfterAll
    static void stop() {
        demoClient.close();
        fixtureClient.close();
        demoServer.close();
        fixtureServer.close();
        demo.close();
        fixture.close();
    }

    static GenerationConfig greedy(FalconMamba fm, int maxTokens) {
        return fm.defaults().toBuilder()
                .doSample(false)
                .temperature(0)
                .maxNewTokens(maxTokens)
                .build();
    }

    static final String PROMPT = "In the beginning God created";

    CompletionCreateParams completionParams(int maxTokens) {
        return CompletionCreateParams.builder()
                .model("demo-kjv")
                .prompt(PROMPT)
                .maxTokens(maxTokens)
                .temperature(0.0)
                .build();
    }

    @Test
    void completionsGiveTheLibrarysGreedyText() {
        String expected = demo.generate(PROMPT, greedy(demo, 40)).text();
        assertFalse(expected.isBlank());
        Completion c = demoClient.completions().create(completionParams(40));
        assertEquals(expected, c.choices().get(0).text());
        assertEquals("demo-kjv", c.model());
        var usage = c.usage().orElseThrow();
        assertEquals(demo.encodePrompt(PROMPT).length, usage.promptTokens());
        assertEquals(demo.generate(PROMPT, greedy(demo, 40)).ids().length, usage.completionTokens());
    }

    @Test
    void streamedCompletionsGiveTheLibrarysGreedyText() {
        String expected = demo.generate(PROMPT, greedy(demo, 40)).text();
        StringBuilder text = new StringBuilder();
        List<String> finishReasons = new java.util.ArrayList<>();
        try (StreamResponse<Completion> s = demoClient.completions().createStreaming(completionParams(40))) {
            s.stream()
                    .forEach(chunk -> chunk.choices().forEach(ch -> {
                        text.append(ch.text());
                        ch._finishReason().asKnown().ifPresent(r -> finishReasons.add(r.asString()));
                    }));
        }
        assertEquals(expected, text.toString());
        assertEquals(1, finishReasons.size());
    }

    static final List<ChatMessage> MESSAGES =
            List.of(ChatMessage.system("You are terse."), ChatMessage.user("Name three rivers."));

    ChatCompletionCreateParams chatParams(int maxTokens) {
        return ChatCompletionCreateParams.builder()
                .model("tiny")
                .addSystemMessage("You are terse.")
                .addUserMessage("Name three rivers.")
                .maxCompletionTokens(maxTokens)
                .temperature(0.0)
                .build();
    }

    @Test
    void chatGivesTheLibrarysGreedyReply() {
        io.falconmamba.Completion expected = fixture.chat(MESSAGES, greedy(fixture, 30));
        ChatCompletion c = fixtureClient.chat().completions().create(chatParams(30));
        assertEquals(expected.text(), c.choices().get(0).message().content().orElse(""));
        String reason = c.choices().get(0).finishReason().asString();
        assertEquals(expected.ids().length == 30 ? "length" : "stop", reason);
        assertEquals(expected.promptIds().length, c.usage().orElseThrow().promptTokens());
    }

    @Test
    void streamedChatGivesTheLibrarysGreedyReply() {
        String expected = fixture.chat(MESSAGES, greedy(fixture, 30)).text();
        StringBuilder text = new StringBuilder();
        boolean[] sawRole = {false};
        try (StreamResponse<ChatCompletionChunk> s =
                fixtureClient.chat().completions().createStreaming(chatParams(30))) {
            s.stream()
                    .forEach(chunk -> chunk.choices().forEach(ch -> {
                        ch.delta().content().ifPresent(text::append);
                        if (ch.delta().role().isPresent()) {
                            sawRole[0] = true;
                        }
                    }));
        }
        assertEquals(expected, text.toString());
        assertTrue(sawRole[0], "the first chunk carries the assistant role");
    }

    @Test
    void modelsListsTheServedModel() {
        var models = fixtureClient.models().list();
        assertEquals("tiny", models.data().get(0).id());
    }
}
