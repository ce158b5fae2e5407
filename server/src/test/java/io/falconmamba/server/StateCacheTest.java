package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A conversation resent whole each turn prefills only its new tokens: the cached state carries the rest.
 *
 * <p>The model is the demo model with a chat template added: its replies are English, so the text a client sends
 * back encodes to the very tokens that were generated (a random fixture's replies do not survive that round trip,
 * and then only the state at the end of the previous prompt can be reused). Each turn ends with the checkpoint's
 * eos token, a special token that keeps the reply's last token from merging with what follows.
 */
class StateCacheTest {

    static final String TEMPLATE = "{% for message in messages %}{{ message['role'] + ':\\n' + message['content'] + "
            + "'<|endoftext|>' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:\\n' }}{% endif %}";

    @TempDir
    static Path dir;

    static FalconMamba fixture;
    static FalconMambaServer server;

    /** Writes the demo model with {@link #TEMPLATE} as its chat template into {@code dir} and loads it. */
    static FalconMamba demoWithChatTemplate(Path dir) throws IOException {
        Path demo = TestData.demoModel();
        for (String f : new String[] {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(demo.resolve(f), dir.resolve(f));
        }
        ObjectNode tokenizerConfig = (ObjectNode)
                Http.JSON.readTree(demo.resolve("tokenizer_config.json").toFile());
        tokenizerConfig.put("chat_template", TEMPLATE);
        Http.JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
        return FalconMamba.load(dir);
    }

    @BeforeAll
    static void start() throws IOException {
        fixture = demoWithChatTemplate(dir);
        server = FalconMambaServer.start(
                fixture, ServerOptions.defaults("demo-chat").withPort(0));
    }

    @AfterAll
    static void stop() {
        server.close();
        fixture.close();
    }

    static ObjectNode message(String role, String content) {
        return Http.JSON.createObjectNode().put("role", role).put("content", content);
    }

    @Test
    void tenTurnsOfALongConversationPrefillOnlyTheirNewTokens() {
        StringBuilder longText = new StringBuilder();
        for (int i = 0; longText.length() < 16_500; i++) {
            longText.append("And the LORD spake unto Moses the ").append(i).append(" time, saying, ");
        }
        ArrayNode messages = Http.JSON.createArrayNode();
        messages.add(message("system", longText.toString()));
        int previousPrompt = 0;
        int previousCompletion = 0;
        int wholeRepliesReused = 0;
        for (int turn = 1; turn <= 10; turn++) {
            messages.add(message("user", "question number " + turn + "?"));
            ObjectNode body = Http.JSON.createObjectNode().put("max_tokens", 16).put("temperature", 0);
            body.set("messages", messages);
            double prefilledBefore = Http.metric(server, "falconmamba_prefill_tokens_total");
            HttpResponse<String> r = Http.post(server, "/v1/chat/completions", body.toString());
            assertEquals(200, r.statusCode(), r.body());
            JsonNode resp = Http.json(r);
            JsonNode usage = resp.get("usage");
            int prompt = usage.get("prompt_tokens").asInt();
            int cached = usage.at("/prompt_tokens_details/cached_tokens").asInt();
            int prefilled = (int) (Http.metric(server, "falconmamba_prefill_tokens_total") - prefilledBefore);
            assertEquals(prompt - cached, prefilled, "turn " + turn + ": /metrics and usage agree");
            if (turn == 1) {
                assertTrue(prompt >= 4000, "the conversation is " + prompt + " tokens");
                assertEquals(0, cached);
            } else {
                // At least everything up to the end of the previous prompt comes from the cache; the previous reply
                // too when the text the client sends back encodes to the tokens that were generated.
                assertTrue(
                        cached == previousPrompt + previousCompletion || cached == previousPrompt,
                        "turn " + turn + ": " + cached + " cached tokens, previous prompt " + previousPrompt
                                + " + reply " + previousCompletion);
                if (cached == previousPrompt + previousCompletion) {
                    wholeRepliesReused++;
                }
                assertTrue(prefilled <= prompt - previousPrompt, "turn " + turn + " prefilled " + prefilled);
            }
            previousPrompt = prompt;
            previousCompletion = usage.get("completion_tokens").asInt();
            messages.add(
                    message("assistant", resp.at("/choices/0/message/content").asText()));
        }
        assertTrue(wholeRepliesReused > 0, "no turn reused the previous reply's state");
        assertEquals(9, (int) Http.metric(server, "falconmamba_state_cache_hits_total"));
        assertTrue(Http.metric(server, "falconmamba_state_cache_tokens_saved_total") > 9 * 4000);
    }

    /**
     * A prompt that is exactly an earlier prompt plus its reply matches the cached reply state whole, but that state's
     * last token is pending, so the request starts from a shorter prefix: still one cache lookup per request.
     */
    @Test
    void eachRequestCountsOneStateCacheLookup() throws IOException {
        try (FalconMambaServer own = FalconMambaServer.start(
                fixture, ServerOptions.defaults("demo-chat").withPort(0))) {
            String prompt = "In the beginning";
            int previousIds = 0;
            int cachedSum = 0;
            int requests = 4;
            for (int i = 0; i < requests; i++) {
                ObjectNode body = Http.JSON
                        .createObjectNode()
                        .put("prompt", prompt)
                        .put("max_tokens", 6)
                        .put("temperature", 0);
                HttpResponse<String> r = Http.post(own, "/v1/completions", body.toString());
                assertEquals(200, r.statusCode(), r.body());
                JsonNode resp = Http.json(r);
                JsonNode usage = resp.get("usage");
                if (i > 0) {
                    // The premise: the text sent back encodes to the very ids of the previous prompt and reply.
                    assertEquals(previousIds, usage.get("prompt_tokens").asInt(), "request " + i + ": " + prompt);
                    assertTrue(usage.at("/prompt_tokens_details/cached_tokens").asInt() > 0, "request " + i);
                }
                cachedSum += usage.at("/prompt_tokens_details/cached_tokens").asInt();
                assertEquals("length", resp.at("/choices/0/finish_reason").asText());
                previousIds = usage.get("total_tokens").asInt();
                prompt += resp.at("/choices/0/text").asText();
            }
            double hits = Http.metric(own, "falconmamba_state_cache_hits_total");
            double misses = Http.metric(own, "falconmamba_state_cache_misses_total");
            assertEquals(requests, (int) (hits + misses), "one lookup per request: " + hits + " hits, " + misses);
            assertEquals(requests - 1, (int) hits);
            assertEquals(cachedSum, (int) Http.metric(own, "falconmamba_state_cache_tokens_saved_total"));
        }
    }
}
