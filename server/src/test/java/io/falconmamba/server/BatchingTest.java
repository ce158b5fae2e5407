package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Requests generated together give exactly what they give one by one; the batch is bounded and cancellable. */
class BatchingTest {

    static FalconMamba demo;
    static FalconMambaServer server;

    @BeforeAll
    static void start() throws IOException {
        demo = FalconMamba.load(TestData.demoModel());
        // no state cache: every request is prefilled from scratch, concurrent or not
        server = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withStateCacheBytes(0));
    }

    @AfterAll
    static void stop() {
        server.close();
        demo.close();
    }

    static String body(String prompt, int maxTokens) {
        return Http.JSON
                .createObjectNode()
                .put("prompt", prompt)
                .put("max_tokens", maxTokens)
                .put("temperature", 0)
                .toString();
    }

    static final String[] PROMPTS = {
        "In the beginning", "And God said", "The LORD is my shepherd", "Blessed are",
        "And it came to pass", "Thus saith the LORD", "Now the serpent", "For God so loved"
    };

    @Test
    void eightConcurrentGreedyRequestsGiveTheSequentialTexts() throws Exception {
        List<String> sequential = new ArrayList<>();
        for (int i = 0; i < PROMPTS.length; i++) {
            HttpResponse<String> r = Http.post(server, "/v1/completions", body(PROMPTS[i], 24 + i));
            assertEquals(200, r.statusCode(), r.body());
            sequential.add(Http.json(r).at("/choices/0/text").asText());
        }
        double stepsBefore = Http.metric(server, "falconmamba_decode_steps_total");
        double tokensBefore = Http.metric(server, "falconmamba_decode_tokens_total");
        List<Future<HttpResponse<String>>> futures = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < PROMPTS.length; i++) {
                String b = body(PROMPTS[i], 24 + i);
                futures.add(pool.submit(() -> Http.post(server, "/v1/completions", b)));
            }
        }
        for (int i = 0; i < PROMPTS.length; i++) {
            HttpResponse<String> r = futures.get(i).get();
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(sequential.get(i), Http.json(r).at("/choices/0/text").asText(), "prompt " + i);
        }
        double steps = Http.metric(server, "falconmamba_decode_steps_total") - stepsBefore;
        double tokens = Http.metric(server, "falconmamba_decode_tokens_total") - tokensBefore;
        // Sequences shared steps: fewer steps than tokens decoded.
        assertTrue(steps < tokens, steps + " steps for " + tokens + " tokens");
    }

    @Test
    void aFullQueueIsAnswered429WithRetryAfterAndTheServerGoesOn() throws Exception {
        try (FalconMambaServer small = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withMaxBatch(1).withMaxQueue(1))) {
            // Hold the only slot with an endless stream, so the queue's state does not depend on timing.
            HttpResponse<InputStream> holder =
                    Http.CLIENT.send(endlessStream(small), HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, holder.statusCode());
            List<Future<HttpResponse<String>>> futures = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                try (InputStream in = holder.body()) {
                    assertEquals(200, in.readNBytes(200).length, "the holder is decoding");
                    for (int i = 0; i < 5; i++) {
                        futures.add(
                                pool.submit(() -> Http.post(small, "/v1/completions", body("In the beginning", 8))));
                    }
                    // One request waits in the queue, the other four are refused at once.
                    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    while (Http.metric(small, "falconmamba_rejected_total") < 4
                            || Http.metric(small, "falconmamba_queue_depth") < 1) {
                        assertTrue(System.nanoTime() < deadline, "four refusals and one queued request");
                        Thread.sleep(20);
                    }
                }
                // Closing the stream cancels the holder; the queued request then runs.
            }
            int ok = 0;
            int busy = 0;
            for (Future<HttpResponse<String>> f : futures) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 200) {
                    ok++;
                } else {
                    assertEquals(429, r.statusCode(), r.body());
                    assertEquals("1", r.headers().firstValue("Retry-After").orElseThrow());
                    assertEquals(
                            "rate_limit_exceeded",
                            Http.json(r).at("/error/code").asText());
                    busy++;
                }
            }
            assertEquals(1, ok, "the queued request is answered");
            assertEquals(4, busy, "the others are refused");
            assertEquals(busy, (int) Http.metric(small, "falconmamba_rejected_total"));
            assertEquals(
                    200,
                    Http.post(small, "/v1/completions", body("And God said", 4)).statusCode());
        }
    }

    static HttpRequest endlessStream(FalconMambaServer server) {
        String b = Http.JSON
                .createObjectNode()
                .put("prompt", "In the beginning")
                .put("max_tokens", 1_000_000)
                .put("temperature", 0)
                .put("stream", true)
                .toString();
        return HttpRequest.newBuilder(URI.create(server.baseUri() + "/v1/completions"))
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(b))
                .build();
    }

    @Test
    void aStreamingClientThatLeavesIsCancelledAndItsSlotFreed() throws Exception {
        try (FalconMambaServer one = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withMaxBatch(1))) {
            HttpResponse<InputStream> r =
                    Http.CLIENT.send(endlessStream(one), HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            try (InputStream in = r.body()) {
                assertTrue(in.readNBytes(200).length == 200, "some events arrived");
            }
            // The only slot is freed once the write after the disconnect fails: the next request is answered.
            HttpResponse<String> next = Http.post(one, "/v1/completions", body("And God said", 4));
            assertEquals(200, next.statusCode(), next.body());
            assertEquals(1, (int) Http.metric(one, "falconmamba_cancelled_total"));
        }
    }

    /** Polls {@code /metrics} until {@code name} reaches {@code value}; fails after {@code seconds}. */
    static void awaitMetric(FalconMambaServer server, String name, double value, int seconds)
            throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        double now;
        while ((now = Http.metric(server, name)) != value) {
            if (System.nanoTime() > end) {
                fail(name + " is " + now + ", not " + value + ", after " + seconds + " s");
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aPlainClientThatLeavesIsCancelledAndItsSlotFreed() throws Exception {
        assumeTrue(DisconnectWatcher.supported(), "closed connections are noticed only where Linux lists them");
        try (FalconMambaServer one = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withMaxBatch(1))) {
            byte[] b = body("In the beginning", 1_000_000).getBytes(StandardCharsets.UTF_8);
            try (Socket socket = new Socket(one.baseUri().getHost(), one.port())) {
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + b.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(b);
                out.flush();
                awaitMetric(one, "falconmamba_batch_size", 1, 30);
            }
            // The client closed its socket without reading: the request is cancelled and the only slot freed.
            awaitMetric(one, "falconmamba_cancelled_total", 1, 10);
            awaitMetric(one, "falconmamba_batch_size", 0, 10);
            HttpResponse<String> next = Http.post(one, "/v1/completions", body("And God said", 4));
            assertEquals(200, next.statusCode(), next.body());
            awaitMetric(one, "falconmamba_requests_total{endpoint=\"completions\",status=\"499\"}", 1, 10);
        }
    }

    @Test
    void aRequestPastItsTimeoutIsCancelledWith504() throws IOException {
        try (FalconMambaServer quick = FalconMambaServer.start(
                demo, ServerOptions.defaults("demo").withPort(0).withRequestTimeout(Duration.ofMillis(300)))) {
            HttpResponse<String> r = Http.post(quick, "/v1/completions", body("In the beginning", 1_000_000));
            assertEquals(504, r.statusCode(), r.body());
            JsonNode err = Http.json(r).get("error");
            assertEquals("timeout", err.get("type").asText());
            assertEquals(
                    200,
                    Http.post(quick, "/v1/completions", body("And God said", 4)).statusCode());
        }
    }
}
