package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The load benchmark (excluded from the default build): {@code ./mvnw -o -pl server -am test -Dgroups=load -DexcludedGroups=none
 * -Dtest=LoadTest -Dsurefire.failIfNoSpecifiedTests=false [-Dload.model=DIR]}. On the demo model (or DIR) it measures total completion
 * tokens/s with one client and with eight for a fixed time each, then runs 64 clients × 20 requests (half of
 * them streamed) and checks every reply against the sequential greedy text, sampling the process RSS after
 * warm-up and at the end. The figures go to stdout and {@code server/target/load-report.txt}.
 */
@Tag("load")
class LoadTest {

    static final String[] PROMPTS = {
        "In the beginning", "And God said", "The LORD is my shepherd", "Blessed are",
        "And it came to pass", "Thus saith the LORD", "Now the serpent", "For God so loved"
    };
    static final int MAX_TOKENS = Integer.getInteger("load.maxTokens", 32);
    static final long PHASE_NANOS = Long.getLong("load.seconds", 10) * 1_000_000_000L;
    /** The model to serve: {@code -Dload.model=DIR} (a Hugging Face folder with a tokenizer), or the demo model. */
    static final Path MODEL =
            System.getProperty("load.model") == null ? TestData.demoModel() : Path.of(System.getProperty("load.model"));

    static String body(int prompt, boolean stream) {
        return Http.JSON
                .createObjectNode()
                .put("prompt", PROMPTS[prompt])
                .put("max_tokens", MAX_TOKENS)
                .put("temperature", 0)
                .put("stream", stream)
                .toString();
    }

    /** The reply's text and completion tokens, from a plain or a streamed response. */
    record Reply(String text, int tokens) {}

    static Reply reply(HttpResponse<String> r, boolean stream) throws IOException {
        if (r.statusCode() != 200) {
            throw new IllegalStateException("status " + r.statusCode() + ": " + r.body());
        }
        if (!stream) {
            JsonNode j = Http.json(r);
            return new Reply(
                    j.at("/choices/0/text").asText(),
                    j.at("/usage/completion_tokens").asInt());
        }
        StringBuilder text = new StringBuilder();
        if (!r.body().endsWith("data: [DONE]\n\n")) {
            throw new IllegalStateException("stream not terminated: " + r.body());
        }
        for (String event : r.body().split("\n\n")) {
            if (!event.equals("data: [DONE]")) {
                JsonNode c = Http.JSON.readTree(event.substring("data: ".length()));
                text.append(c.at("/choices/0/text").asText());
            }
        }
        return new Reply(text.toString(), -1);
    }

    static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** Total completion tokens/s of {@code clients} clients sending plain requests back to back for a phase. */
    static double throughput(FalconMambaServer server, int clients) throws Exception {
        AtomicLong tokens = new AtomicLong();
        AtomicInteger requests = new AtomicInteger();
        long start = System.nanoTime();
        long end = start + PHASE_NANOS;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                int client = c;
                pool.submit(() -> {
                    for (int i = 0; System.nanoTime() < end; i++) {
                        HttpResponse<String> r =
                                Http.post(server, "/v1/completions", body((client + i) % PROMPTS.length, false));
                        tokens.addAndGet(reply(r, false).tokens());
                        requests.incrementAndGet();
                    }
                    return null;
                });
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return tokens.get() / seconds;
    }

    @Test
    void load() throws Exception {
        StringBuilder report = new StringBuilder();
        try (FalconMamba demo = FalconMamba.load(MODEL);
                FalconMambaServer server = FalconMambaServer.start(
                        demo,
                        ServerOptions.defaults("demo")
                                .withPort(0)
                                .withMaxBatch(8)
                                .withMaxQueue(64))) {
            List<String> expected = new ArrayList<>();
            for (int p = 0; p < PROMPTS.length; p++) {
                expected.add(reply(Http.post(server, "/v1/completions", body(p, false)), false)
                        .text());
            }
            throughput(server, 8); // warm-up: JIT, the batch kernels at every batch size
            double one = throughput(server, 1);
            double eight = throughput(server, 8);
            report.append(String.format(
                    Locale.ROOT,
                    "completion tokens/s, %d s per phase, %d new tokens per request: 1 client %.1f, 8 clients %.1f"
                            + " (%.2fx)%n",
                    PHASE_NANOS / 1_000_000_000L,
                    MAX_TOKENS,
                    one,
                    eight,
                    eight / one));

            System.gc();
            long rssAfterWarmup = rssKb();
            int clients = 64;
            int perClient = 20;
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            AtomicInteger ok = new AtomicInteger();
            long t0 = System.nanoTime();
            List<Long> rssSamples = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int c = 0; c < clients; c++) {
                    int client = c;
                    pool.submit(() -> {
                        for (int i = 0; i < perClient; i++) {
                            int p = (client * 7 + i) % PROMPTS.length;
                            boolean stream = (client + i) % 2 == 0;
                            try {
                                HttpResponse<String> r = Http.post(server, "/v1/completions", body(p, stream));
                                String text = reply(r, stream).text();
                                if (text.equals(expected.get(p))) {
                                    ok.incrementAndGet();
                                } else {
                                    failures.add("client " + client + " request " + i + ": text differs");
                                }
                            } catch (Exception e) {
                                failures.add("client " + client + " request " + i + ": " + e);
                            }
                        }
                        return null;
                    });
                }
                pool.shutdown();
                while (!pool.awaitTermination(2, java.util.concurrent.TimeUnit.SECONDS)) {
                    rssSamples.add(rssKb());
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.gc();
            long rssEnd = rssKb();
            report.append(String.format(
                    Locale.ROOT,
                    "%d clients x %d requests (half streamed): %d identical to the sequential greedy text, %d failed,"
                            + " in %.1f s%n",
                    clients,
                    perClient,
                    ok.get(),
                    failures.size(),
                    seconds));
            report.append(String.format(
                    Locale.ROOT,
                    "RSS after warm-up %d MiB, during the 64-client run max %d MiB, at the end %d MiB%n",
                    rssAfterWarmup >> 10,
                    rssSamples.stream().mapToLong(Long::longValue).max().orElse(rssEnd) >> 10,
                    rssEnd >> 10));
            report.append(Http.get(server, "/metrics")
                    .body()
                    .lines()
                    .filter(l -> !l.startsWith("#"))
                    .filter(l ->
                            l.contains("per_second") || l.contains("decode_steps") || l.contains("decode_tokens_total"))
                    .reduce("", (a, b) -> a + b + "\n"));
            System.out.print(report);
            Files.writeString(Path.of("target", "load-report.txt"), report.toString());
            failures.stream().limit(10).forEach(System.out::println);
            assertEquals(0, failures.size(), "failed or garbled responses");
            assertEquals(clients * perClient, ok.get());
            assertTrue(eight > one, "batching gains nothing");
        }
    }
}
