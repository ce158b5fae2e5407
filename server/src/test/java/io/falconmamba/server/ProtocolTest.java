package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Raw HTTP: SSE framing, OpenAI-style errors for bad requests, the API key; the server keeps serving throughout. */
class ProtocolTest {

    static final String KEY = "sk-test-123";
    static final String AUTH = "Bearer " + KEY;

    static FalconMamba demo;
    static FalconMambaServer server;

    @BeforeAll
    static void start() throws IOException {
        demo = FalconMamba.load(TestData.demoModel());
        server = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withApiKey(KEY).withMaxBodyBytes(1 << 20));
    }

    @AfterAll
    static void stop() {
        server.close();
        demo.close();
    }

    static HttpResponse<String> complete(String body) {
        return Http.post(server, "/v1/completions", body, "Authorization", AUTH);
    }

    static void assertStillServing() {
        HttpResponse<String> r = complete("{\"prompt\": \"And God said\", \"max_tokens\": 3, \"temperature\": 0}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(3, Http.json(r).at("/usage/completion_tokens").asInt());
    }

    static JsonNode assertError(HttpResponse<String> r, int status, String param) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode error = Http.json(r).get("error");
        assertTrue(error != null && error.get("message").isTextual(), r.body());
        assertTrue(error.has("type") && error.has("param") && error.has("code"), r.body());
        if (param != null) {
            assertEquals(param, error.get("param").asText(), r.body());
        }
        return error;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            value = {
                "malformed JSON       | {\"prompt\": \"x\",                                 | ",
                "not an object        | [1, 2, 3]                                          | ",
                "empty body           | ''                                                 | ",
                "missing prompt       | {\"max_tokens\": 3}                                | prompt",
                "prompt wrong type    | {\"prompt\": 42}                                   | prompt",
                "max_tokens negative  | {\"prompt\": \"x\", \"max_tokens\": -5}            | max_tokens",
                "max_tokens a string  | {\"prompt\": \"x\", \"max_tokens\": \"many\"}      | max_tokens",
                "max_tokens fraction  | {\"prompt\": \"x\", \"max_tokens\": 2.5}           | max_tokens",
                "temperature -1       | {\"prompt\": \"x\", \"temperature\": -1}           | temperature",
                "temperature a string | {\"prompt\": \"x\", \"temperature\": \"hot\"}      | temperature",
                "top_p 0              | {\"prompt\": \"x\", \"top_p\": 0}                  | top_p",
                "top_k negative       | {\"prompt\": \"x\", \"top_k\": -1}                 | top_k",
                "min_p above 1        | {\"prompt\": \"x\", \"min_p\": 1.5}                | min_p",
                "penalty 0            | {\"prompt\": \"x\", \"repetition_penalty\": 0}     | repetition_penalty",
                "seed a string        | {\"prompt\": \"x\", \"seed\": \"abc\"}             | seed",
                "stop a number        | {\"prompt\": \"x\", \"stop\": 7}                   | stop",
                "five stops           | {\"prompt\": \"x\", \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]} | stop",
                "n 2                  | {\"prompt\": \"x\", \"n\": 2}                      | n",
                "stream a string      | {\"prompt\": \"x\", \"stream\": \"yes\"}           | stream",
            })
    void badCompletionRequestsAre400(String what, String body, String param) {
        JsonNode error = assertError(complete(body == null ? "" : body), 400, param);
        assertEquals("invalid_request_error", error.get("type").asText());
        assertStillServing();
    }

    @Test
    void badChatRequestsAre400() {
        String path = "/v1/chat/completions";
        assertError(Http.post(server, path, "{\"messages\": []}", "Authorization", AUTH), 400, "messages");
        assertError(Http.post(server, path, "{\"messages\": [\"hi\"]}", "Authorization", AUTH), 400, "messages[0]");
        assertError(
                Http.post(server, path, "{\"messages\": [{\"content\": \"hi\"}]}", "Authorization", AUTH),
                400,
                "messages[0].role");
        // The demo model has no chat template: the error says so rather than failing inside.
        JsonNode e = assertError(
                Http.post(
                        server,
                        path,
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                        "Authorization",
                        AUTH),
                400,
                "messages");
        assertTrue(e.get("message").asText().contains("chat template"), e.toString());
        assertStillServing();
    }

    @Test
    void unknownFieldsAreIgnored() {
        HttpResponse<String> r = complete(
                "{\"prompt\": \"And God said\", \"max_tokens\": 2, \"logit_bias\": {}, \"user\": \"u1\", \"x\": [1]}");
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void anUnknownModelIs404() {
        JsonNode e = assertError(complete("{\"model\": \"gpt-4o\", \"prompt\": \"x\"}"), 404, "model");
        assertEquals("model_not_found", e.get("code").asText());
        assertError(Http.get(server, "/v1/models/gpt-4o", "Authorization", AUTH), 404, "model");
        assertEquals(
                200, Http.get(server, "/v1/models/demo", "Authorization", AUTH).statusCode());
        assertStillServing();
    }

    @Test
    void aTenMegabyteBodyIs413() {
        String big = "{\"prompt\": \"" + "a".repeat(10 << 20) + "\"}";
        assertError(complete(big), 413, null);
        assertStillServing();
    }

    @Test
    void withoutTheKeyItIs401() {
        String body = "{\"prompt\": \"x\", \"max_tokens\": 1}";
        JsonNode e = assertError(Http.post(server, "/v1/completions", body), 401, null);
        assertEquals("invalid_api_key", e.get("code").asText());
        assertError(Http.post(server, "/v1/completions", body, "Authorization", "Bearer wrong"), 401, null);
        assertError(Http.get(server, "/v1/models"), 401, null);
        assertEquals(200, Http.get(server, "/v1/models", "Authorization", AUTH).statusCode());
        // health and metrics answer without a key (liveness probes and scrapers)
        assertEquals(200, Http.get(server, "/health").statusCode());
        assertEquals(200, Http.get(server, "/metrics").statusCode());
        assertStillServing();
    }

    @Test
    void unknownPathsAndMethodsGetErrors() {
        assertError(Http.get(server, "/v2/whatever"), 404, null);
        assertError(Http.get(server, "/v1/completions", "Authorization", AUTH), 405, null);
    }

    @Test
    void streamedRepliesAreServerSentEventsEndingWithDone() throws IOException {
        HttpResponse<String> r = complete("{\"prompt\": \"In the beginning\", \"max_tokens\": 8, \"temperature\": 0, "
                + "\"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        String body = r.body();
        assertTrue(body.endsWith("data: [DONE]\n\n"), body);
        String[] events = body.split("\n\n");
        List<JsonNode> chunks = new ArrayList<>();
        for (String event : events) {
            assertTrue(event.startsWith("data: "), "every event is one data line: " + event);
            assertFalse(event.substring(6).contains("\n"), event);
            if (!event.equals("data: [DONE]")) {
                chunks.add(Http.JSON.readTree(event.substring(6)));
            }
        }
        StringBuilder text = new StringBuilder();
        String id = chunks.get(0).get("id").asText();
        for (JsonNode c : chunks) {
            assertEquals("text_completion", c.get("object").asText());
            assertEquals(id, c.get("id").asText());
            if (!c.get("choices").isEmpty()) {
                text.append(c.at("/choices/0/text").asText());
            }
        }
        JsonNode last = chunks.get(chunks.size() - 2);
        assertEquals("length", last.at("/choices/0/finish_reason").asText());
        JsonNode usage = chunks.get(chunks.size() - 1);
        assertEquals(0, usage.get("choices").size());
        assertEquals(8, usage.at("/usage/completion_tokens").asInt());
        HttpResponse<String> plain =
                complete("{\"prompt\": \"In the beginning\", \"max_tokens\": 8, \"temperature\": 0}");
        assertEquals(Http.json(plain).at("/choices/0/text").asText(), text.toString());
    }

    @Test
    void aStopStringEndsTheReplyAndIsLeftOut() throws IOException {
        HttpResponse<String> full =
                complete("{\"prompt\": \"In the beginning\", \"max_tokens\": 30, \"temperature\": 0}");
        String text = Http.json(full).at("/choices/0/text").asText();
        // a word from the middle of the greedy reply
        String[] words = text.trim().split("\\s+");
        assertTrue(words.length >= 4, text);
        String stop = words[words.length / 2];
        int cut = text.indexOf(stop);
        for (String stream : new String[] {"false", "true"}) {
            HttpResponse<String> r =
                    complete("{\"prompt\": \"In the beginning\", \"max_tokens\": 30, \"temperature\": 0, "
                            + "\"stop\": [\"" + stop + "\"], \"stream\": " + stream + "}");
            assertEquals(200, r.statusCode(), r.body());
            String got;
            String finish;
            if (stream.equals("true")) {
                StringBuilder sb = new StringBuilder();
                String f = null;
                for (String event : r.body().split("\n\n")) {
                    if (!event.equals("data: [DONE]")) {
                        JsonNode c = Http.JSON.readTree(event.substring(6));
                        sb.append(c.at("/choices/0/text").asText());
                        if (c.at("/choices/0/finish_reason").isTextual()) {
                            f = c.at("/choices/0/finish_reason").asText();
                        }
                    }
                }
                got = sb.toString();
                finish = f;
            } else {
                got = Http.json(r).at("/choices/0/text").asText();
                finish = Http.json(r).at("/choices/0/finish_reason").asText();
            }
            assertEquals(text.substring(0, cut), got, "stream=" + stream);
            assertEquals("stop", finish);
        }
    }

    @Test
    void healthAndMetricsAnswer() throws Exception {
        assertEquals("ok", Http.json(Http.get(server, "/health")).get("status").asText());
        String metrics = Http.get(server, "/metrics").body();
        for (String name : new String[] {
            "falconmamba_requests_total",
            "falconmamba_queue_depth",
            "falconmamba_batch_size",
            "falconmamba_state_cache_hits_total",
            "falconmamba_state_cache_tokens_saved_total",
            "falconmamba_prefill_tokens_per_second",
            "falconmamba_decode_tokens_per_second"
        }) {
            assertTrue(metrics.contains("# TYPE " + name + " "), name);
        }
        HttpRequest head = HttpRequest.newBuilder(URI.create(server.baseUri() + "/health"))
                .timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build();
        assertEquals(405, Http.send(head).statusCode());
    }
}
