package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.Session;
import io.falconmamba.core.generation.SessionCache;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server whose state cache has memory for one state and spills the rest to a directory: a request whose prefix was
 * evicted loads it back from disk and answers exactly what a server that never evicted answers; a damaged file is a
 * miss, not an error. The reference is a server with the default cache, which keeps everything in memory.
 */
class StateSpillServerTest {

    @TempDir
    static Path modelDir;

    static FalconMamba fm;
    static FalconMambaServer reference;

    @TempDir
    Path spillDir;

    FalconMambaServer server;

    @BeforeAll
    static void load() throws IOException {
        fm = StateCacheTest.demoWithChatTemplate(modelDir);
        reference =
                FalconMambaServer.start(fm, ServerOptions.defaults("demo-chat").withPort(0));
    }

    @AfterAll
    static void unload() {
        reference.close();
        fm.close();
    }

    @BeforeEach
    void start() throws IOException {
        // One state and the token ids of a few thousand tokens: a second state does not fit.
        long memory = SessionCache.sizeOf(new Session(fm.model())) + 8L * 4096;
        server = FalconMambaServer.start(
                fm,
                ServerOptions.defaults("demo-chat")
                        .withPort(0)
                        .withStateCacheBytes(memory)
                        .withStateSpillDir(spillDir, 64L << 20));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    static JsonNode complete(FalconMambaServer s, String prompt, int maxTokens) {
        ObjectNode body = Http.JSON
                .createObjectNode()
                .put("prompt", prompt)
                .put("max_tokens", maxTokens)
                .put("temperature", 0);
        HttpResponse<String> r = Http.post(s, "/v1/completions", body.toString());
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r);
    }

    static int cached(JsonNode response) {
        return response.at("/usage/prompt_tokens_details/cached_tokens").asInt();
    }

    double metric(String name) {
        return Http.metric(server, name);
    }

    List<Path> stateFiles() throws IOException {
        try (Stream<Path> s = Files.list(spillDir)) {
            return s.filter(p -> p.toString().endsWith(".fmstate")).toList();
        }
    }

    @Test
    void aStateLoadedBackFromDiskContinuesLikeAnUncachedRequest() {
        String prompt = "And God said,";
        JsonNode first = complete(server, prompt, 12);
        complete(server, "Then the interlude", 4); // evicts the first request's states to disk
        assertTrue(metric("falconmamba_state_spill_written_total") >= 2);
        assertTrue(metric("falconmamba_state_spill_files") >= 2);
        assertTrue(metric("falconmamba_state_spill_bytes") > 0);

        String next = prompt + first.at("/choices/0/text").asText() + " And";
        JsonNode fromSpill = complete(server, next, 12);
        assertEquals(1, (int) metric("falconmamba_state_spill_loaded_total"));
        assertTrue(cached(fromSpill) > first.at("/usage/prompt_tokens").asInt(), fromSpill.toString());
        JsonNode uncached = complete(reference, next, 12);
        assertEquals(0, cached(uncached), "the reference has not seen this prompt");
        assertEquals(
                uncached.at("/choices/0/text").asText(),
                fromSpill.at("/choices/0/text").asText());
        assertEquals(1, (int) metric("falconmamba_state_cache_hits_total"), "the disk load counts as a hit");
    }

    @Test
    void aCorruptSpilledFileIsAMissAndTheAnswerIsStillRight() throws IOException {
        String prompt = "Let there be light";
        JsonNode first = complete(server, prompt, 10);
        complete(server, "Then the interlude", 4);
        List<Path> files = stateFiles();
        assertTrue(files.size() >= 2, files.toString());
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            bytes[bytes.length / 2] ^= 0x01;
            Files.write(f, bytes);
        }

        JsonNode again = complete(server, prompt, 10);
        assertEquals(0, cached(again), "the damaged state is not used");
        assertEquals(
                first.at("/choices/0/text").asText(),
                again.at("/choices/0/text").asText());
        assertTrue(metric("falconmamba_state_spill_rejected_total") >= 1);
        assertEquals(0, (int) metric("falconmamba_state_spill_loaded_total"));
        assertEquals(200, Http.get(server, "/health").statusCode());
    }

    @Test
    void aChatInterleavedWithOtherRequestsResumesEachTurnFromDiskAndPrefillsOnlyItsNewTokens() throws IOException {
        ArrayNode messages = Http.JSON.createArrayNode();
        messages.add(StateCacheTest.message("system", "And the LORD spake unto Moses, saying, ".repeat(20)));
        ArrayNode refMessages = messages.deepCopy();
        int previousPrompt = 0;
        int previousCompletion = 0;
        for (int turn = 1; turn <= 5; turn++) {
            messages.add(StateCacheTest.message("user", "question number " + turn + "?"));
            refMessages.add(StateCacheTest.message("user", "question number " + turn + "?"));
            double prefilledBefore = metric("falconmamba_prefill_tokens_total");
            double loadedBefore = metric("falconmamba_state_spill_loaded_total");
            JsonNode resp = chat(server, messages);
            int prompt = resp.at("/usage/prompt_tokens").asInt();
            int cached = cached(resp);
            int prefilled = (int) (metric("falconmamba_prefill_tokens_total") - prefilledBefore);
            assertEquals(prompt - cached, prefilled, "turn " + turn + ": /metrics and usage agree");
            if (turn == 1) {
                assertEquals(0, cached);
            } else {
                assertEquals(1, (int) (metric("falconmamba_state_spill_loaded_total") - loadedBefore), "turn " + turn);
                // Everything up to the end of the previous reply (or, when the reply does not re-encode to the
                // generated ids, the previous prompt) comes from the state on disk.
                assertTrue(
                        cached == previousPrompt + previousCompletion || cached == previousPrompt,
                        "turn " + turn + ": " + cached + " cached, previous prompt " + previousPrompt + " + reply "
                                + previousCompletion);
            }
            String text = resp.at("/choices/0/message/content").asText();
            String refText = chat(reference, refMessages)
                    .at("/choices/0/message/content")
                    .asText();
            assertEquals(refText, text, "turn " + turn + " from disk answers what the all-in-memory server does");
            previousPrompt = prompt;
            previousCompletion = resp.at("/usage/completion_tokens").asInt();
            messages.add(StateCacheTest.message("assistant", text));
            refMessages.add(StateCacheTest.message("assistant", refText));
            complete(server, "An unrelated request " + turn, 4); // pushes the conversation's states to disk
        }
        assertEquals(stateFiles().size(), (int) metric("falconmamba_state_spill_files"));
        assertTrue(metric("falconmamba_state_spill_bytes") <= metric("falconmamba_state_spill_max_bytes"));
    }

    static JsonNode chat(FalconMambaServer s, ArrayNode messages) {
        ObjectNode body = Http.JSON.createObjectNode().put("max_tokens", 12).put("temperature", 0);
        body.set("messages", messages);
        HttpResponse<String> r = Http.post(s, "/v1/chat/completions", body.toString());
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r);
    }
}
