package io.falconmamba.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.server.FalconMambaServer;
import io.falconmamba.server.ServerOptions;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A long conversation through the HTTP server, turn by turn: starts a {@link FalconMambaServer} on a model directory,
 * sends a chat whose every request resends the whole history (as OpenAI clients do) with long user messages,
 * streams each reply, and prints per turn the prompt tokens, the tokens the server prefilled (from {@code /metrics})
 * and the time to the first streamed token. A recurrent state cache makes each turn after the first cost only its new
 * tokens, so the time to first token stays flat as the conversation grows. The conversation runs {@code --repeat}
 * times (each opening differently, taking turns with each other); the table gives the first one's token counts and the median and fastest time to
 * first token of each turn, the last line turn N's median over turn 2's.
 *
 * <p>A model with a chat template is driven through {@code /v1/chat/completions}; one without (a base model such as
 * the demo) through {@code /v1/completions} with the conversation written out as a {@code User:}/{@code Assistant:}
 * transcript. One warm-up conversation (other text, not printed) runs first so the JIT has compiled the hot paths.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *     -cp benchmarks/target/benchmarks.jar io.falconmamba.benchmarks.ChatTurnsBench \
 *     --model src/test/models/demo-kjv [--turns 10] [--user-chars 2400] [--max-tokens 16] [--repeat 5]
 *     [--state-cache-mb 2048] [--state-spill-dir DIR --state-spill-mb 4096]
 * </pre>
 */
public final class ChatTurnsBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    private ChatTurnsBench() {}

    /** One turn's figures. */
    record Turn(int prompt, int cached, int prefilled, double ttftMs) {}

    public static void main(String[] args) throws IOException, InterruptedException {
        Path model = Path.of("src/test/models/demo-kjv");
        int turns = 10;
        int userChars = 2400;
        int maxTokens = 16;
        int repeat = 5;
        long cacheMb = 2048;
        Path spillDir = null;
        long spillMb = 4096;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> model = Path.of(v);
                case "--turns" -> turns = Integer.parseInt(v);
                case "--user-chars" -> userChars = Integer.parseInt(v);
                case "--max-tokens" -> maxTokens = Integer.parseInt(v);
                case "--repeat" -> repeat = Integer.parseInt(v);
                case "--state-cache-mb" -> cacheMb = Long.parseLong(v);
                case "--state-spill-dir" -> spillDir = Path.of(v);
                case "--state-spill-mb" -> spillMb = Long.parseLong(v);
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
            i++;
        }
        if (turns < 2 || repeat < 1) {
            System.err.println("--turns must be at least 2 and --repeat at least 1");
            System.exit(2);
        }
        ServerOptions options = ServerOptions.defaults(ServerOptions.modelIdOf(model))
                .withPort(0)
                .withStateCacheBytes(cacheMb << 20)
                .withStateSpillDir(spillDir, spillMb << 20);
        try (FalconMamba fm = FalconMamba.load(model);
                FalconMambaServer server = FalconMambaServer.start(fm, options)) {
            boolean chat = fm.tokenizer().chatTemplate().isPresent();
            System.out.printf(
                    Locale.ROOT,
                    "ChatTurnsBench: %s, %s, %d turns, user messages of %d chars, %d reply tokens, %d conversations,"
                            + " %d threads%n",
                    model,
                    chat ? "/v1/chat/completions" : "/v1/completions (no chat template: a User/Assistant transcript)",
                    turns,
                    userChars,
                    maxTokens,
                    repeat,
                    Runtime.getRuntime().availableProcessors());
            Conversation warmUp = new Conversation(server, chat, "Warm-up", userChars, maxTokens);
            for (int t = 1; t <= 3; t++) {
                warmUp.next();
            }
            // Each conversation opens differently, so none continues a cached state of another; they take turns, as
            // users of one server do, so a state cache too small for all of them evicts (or spills) between turns.
            List<Conversation> conversations = new ArrayList<>();
            for (int r = 1; r <= repeat; r++) {
                String theme = "In conversation " + r + " the LORD spake unto Moses";
                conversations.add(new Conversation(server, chat, theme, userChars, maxTokens));
            }
            for (int t = 1; t <= turns; t++) {
                for (Conversation c : conversations) {
                    c.next();
                }
            }
            report(conversations.stream().map(c -> c.turns).toList(), turns);
            System.out.printf(
                    Locale.ROOT,
                    "state cache: %.0f hits, %.0f misses; spill: %.0f written, %.0f loaded, %.0f rejected%n",
                    metric(server, "falconmamba_state_cache_hits_total"),
                    metric(server, "falconmamba_state_cache_misses_total"),
                    metric(server, "falconmamba_state_spill_written_total"),
                    metric(server, "falconmamba_state_spill_loaded_total"),
                    metric(server, "falconmamba_state_spill_rejected_total"));
        }
    }

    /**
     * Token counts of the first conversation, median and fastest time to first token over all, whether every later
     * turn prefilled only its new tokens, and turn N's median time to first token over turn 2's.
     */
    private static void report(List<List<Turn>> runs, int turns) {
        System.out.println("turn  prompt_tokens  cached  new_tokens  prefilled  ttft_median_ms  ttft_min_ms");
        boolean onlyNew = true;
        double[] medians = new double[turns + 1];
        for (int t = 1; t <= turns; t++) {
            double[] ttft = new double[runs.size()];
            for (int r = 0; r < runs.size(); r++) {
                List<Turn> run = runs.get(r);
                Turn turn = run.get(t - 1);
                ttft[r] = turn.ttftMs;
                if (t > 1) {
                    int previous = run.get(t - 2).prompt;
                    onlyNew &= turn.prefilled == turn.prompt - turn.cached && turn.cached >= previous;
                }
            }
            Arrays.sort(ttft);
            medians[t] = ttft.length % 2 == 1
                    ? ttft[ttft.length / 2]
                    : (ttft[ttft.length / 2 - 1] + ttft[ttft.length / 2]) / 2;
            Turn first = runs.getFirst().get(t - 1);
            int previous = t == 1 ? 0 : runs.getFirst().get(t - 2).prompt;
            System.out.printf(
                    Locale.ROOT,
                    "%4d  %13d  %6d  %10d  %9d  %14.1f  %11.1f%n",
                    t,
                    first.prompt,
                    first.cached,
                    first.prompt - previous,
                    first.prefilled,
                    medians[t],
                    ttft[0]);
        }
        System.out.printf(
                Locale.ROOT,
                "conversation %d tokens; every turn after the first prefilled only its new tokens: %s%n",
                runs.getFirst().getLast().prompt,
                onlyNew ? "yes" : "NO");
        StringBuilder each = new StringBuilder();
        for (List<Turn> run : runs) {
            each.append(each.isEmpty() ? "" : ", ")
                    .append(String.format(Locale.ROOT, "%.2f", run.getLast().ttftMs / run.get(1).ttftMs));
        }
        System.out.printf(
                Locale.ROOT,
                "time to first token, turn %d / turn 2: %.2f (medians); per conversation %s%n",
                turns,
                medians[turns] / medians[2],
                each);
    }

    /** One conversation against the server, growing by a user message and a reply each turn. */
    private static final class Conversation {

        private final FalconMambaServer server;
        private final boolean chat;
        private final String theme;
        private final int userChars;
        private final int maxTokens;
        private final ArrayNode messages = JSON.createArrayNode();
        private final StringBuilder transcript = new StringBuilder();
        private final List<Turn> turns = new ArrayList<>();

        Conversation(FalconMambaServer server, boolean chat, String theme, int userChars, int maxTokens) {
            this.server = server;
            this.chat = chat;
            this.theme = theme;
            this.userChars = userChars;
            this.maxTokens = maxTokens;
        }

        /** Sends the next user message and records the turn. */
        void next() throws IOException, InterruptedException {
            turns.add(turn(userMessage(turns.size() + 1)));
        }

        /** A long user message, different each turn. */
        private String userMessage(int turn) {
            StringBuilder m = new StringBuilder();
            for (int i = 1; m.length() < userChars; i++) {
                m.append(theme).append(" in the ").append(turn * 1000 + i).append(" year of the reign, saying, ");
            }
            return m.append("what came of it?").toString();
        }

        private Turn turn(String user) throws IOException, InterruptedException {
            ObjectNode body = JSON.createObjectNode()
                    .put("max_tokens", maxTokens)
                    .put("temperature", 0)
                    .put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
            String path;
            if (chat) {
                messages.addObject().put("role", "user").put("content", user);
                body.set("messages", messages);
                path = "/v1/chat/completions";
            } else {
                transcript.append("User: ").append(user).append("\n\nAssistant:");
                body.put("prompt", transcript.toString());
                path = "/v1/completions";
            }
            double prefilledBefore = metric(server, "falconmamba_prefill_tokens_total");
            HttpRequest request = HttpRequest.newBuilder(URI.create(server.baseUri() + path))
                    .timeout(Duration.ofMinutes(10))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build();
            long t0 = System.nanoTime();
            HttpResponse<Stream<String>> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofLines());
            if (response.statusCode() != 200) {
                throw new IllegalStateException(path + " answered " + response.statusCode() + ": "
                        + String.join("\n", response.body().toList()));
            }
            long first = 0;
            JsonNode usage = null;
            StringBuilder reply = new StringBuilder();
            try (Stream<String> lines = response.body()) {
                for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                    String line = it.next();
                    if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                        continue;
                    }
                    JsonNode chunk = JSON.readTree(line.substring(6));
                    JsonNode choice = chunk.path("choices").path(0);
                    String text = chat
                            ? choice.path("delta").path("content").asText("")
                            : choice.path("text").asText("");
                    if (!text.isEmpty() && first == 0) {
                        first = System.nanoTime();
                    }
                    reply.append(text);
                    if (chunk.hasNonNull("usage")) {
                        usage = chunk.get("usage");
                    }
                }
            }
            long end = System.nanoTime();
            if (usage == null) {
                throw new IllegalStateException("the stream ended without a usage chunk");
            }
            int prefilled = (int) (metric(server, "falconmamba_prefill_tokens_total") - prefilledBefore);
            if (chat) {
                messages.addObject().put("role", "assistant").put("content", reply.toString());
            } else {
                transcript.append(reply).append("\n\n");
            }
            return new Turn(
                    usage.get("prompt_tokens").asInt(),
                    usage.at("/prompt_tokens_details/cached_tokens").asInt(),
                    prefilled,
                    ((first == 0 ? end : first) - t0) / 1e6);
        }
    }

    /** One value of the server's {@code /metrics}. */
    private static double metric(FalconMambaServer server, String name) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(server.baseUri() + "/metrics"))
                .GET()
                .build();
        for (String line : CLIENT.send(request, HttpResponse.BodyHandlers.ofString())
                .body()
                .split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new IllegalStateException("/metrics has no " + name);
    }
}
