package io.falconmamba.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.core.generation.StateSpill;
import io.falconmamba.core.generation.StopReason;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * An OpenAI-compatible HTTP server for one loaded model: {@code POST /v1/chat/completions}, {@code POST
 * /v1/completions} (plain or streamed as server-sent events), {@code GET /v1/models}, {@code GET /health},
 * {@code GET /metrics}. Requests are generated together by a continuous-batching {@link Scheduler}; a request that
 * extends an earlier conversation prefills only its new tokens.
 *
 * <pre>{@code
 * try (FalconMamba fm = FalconMamba.load(dir);
 *      FalconMambaServer server = FalconMambaServer.start(fm, ServerOptions.defaults("my-model"))) {
 *     server.awaitTermination();
 * }
 * }</pre>
 *
 * <p>The HTTP layer is the JDK's own {@code jdk.httpserver} with one virtual thread per exchange: the model, not
 * the socket layer, bounds the throughput (one scheduler thread does all model work, HTTP threads only parse, wait
 * and write), and it keeps the server module free of dependencies beyond Jackson.
 *
 * <p>Closing the server stops it (and deletes the files of its state spill, if it has one); the model stays open (its
 * owner closes it).
 */
public final class FalconMambaServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(FalconMambaServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FalconMamba fm;
    private final ServerOptions options;
    private final SessionCache cache;
    private final Metrics metrics = new Metrics();
    private final Scheduler scheduler;
    private final DisconnectWatcher disconnects = new DisconnectWatcher();
    private final HttpServer http;
    private final ExecutorService executor;
    private final long created = System.currentTimeMillis() / 1000;
    private final Object stopped = new Object();
    private volatile boolean closed;

    private FalconMambaServer(FalconMamba fm, ServerOptions options) throws IOException {
        this.fm = fm;
        this.options = options;
        StateSpill spill = options.stateSpillDir() == null
                ? null
                : StateSpill.open(options.stateSpillDir(), options.stateSpillBytes(), fm.model());
        this.cache = new SessionCache(options.stateCacheBytes(), spill);
        this.scheduler = new Scheduler(
                fm.model(), cache, metrics, options.maxBatch(), options.maxQueue(), options.prefillChunk());
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
        } catch (IOException | RuntimeException e) {
            scheduler.close();
            executor.close();
            disconnects.close();
            cache.close();
            throw e;
        }
        this.http = server;
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    /**
     * Starts serving {@code model} as {@link ServerOptions#modelId()}.
     *
     * @throws IOException when the address cannot be bound
     */
    public static FalconMambaServer start(FalconMamba model, ServerOptions options) throws IOException {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        return new FalconMambaServer(model, options);
    }

    /** The bound port (the one chosen when the options said 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** {@code http://host:port}, to which a client appends {@code /v1}. */
    public URI baseUri() {
        String host = http.getAddress().getHostString();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create("http://" + host + ":" + port());
    }

    public ServerOptions options() {
        return options;
    }

    /** Blocks until {@link #close()}. */
    public void awaitTermination() throws InterruptedException {
        synchronized (stopped) {
            while (!closed) {
                stopped.wait();
            }
        }
    }

    /** Stops accepting requests, fails those in flight, and stops the scheduler thread. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        http.stop(0);
        scheduler.close();
        executor.shutdownNow();
        disconnects.close();
        cache.close();
        synchronized (stopped) {
            stopped.notifyAll();
        }
    }

    // ---- routing ----

    private void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String endpoint = switch (path) {
            case "/v1/chat/completions" -> "chat";
            case "/v1/completions" -> "completions";
            case "/v1/models" -> "models";
            case "/health" -> "health";
            case "/metrics" -> "metrics";
            default -> "other";
        };
        int status;
        try {
            status = route(ex, endpoint, path);
        } catch (ApiException e) {
            status = e.status;
            sendError(ex, e);
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "request failed: " + path, e);
            status = 500;
            sendError(ex, new ApiException(500, "server_error", "internal error: " + e.getMessage(), null, null));
        } catch (IOException e) {
            status = 499; // the client went away while we answered
        } finally {
            ex.close();
        }
        metrics.request(endpoint, status);
    }

    private int route(HttpExchange ex, String endpoint, String path) throws IOException {
        String method = ex.getRequestMethod();
        switch (endpoint) {
            case "health" -> {
                requireMethod(method, "GET");
                return sendJson(ex, 200, JSON.createObjectNode().put("status", "ok"));
            }
            case "metrics" -> {
                requireMethod(method, "GET");
                byte[] body = metrics.render(cache.stats(), cache.spillStats()).getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                return 200;
            }
            case "models" -> {
                authorize(ex);
                requireMethod(method, "GET");
                return sendJson(ex, 200, models());
            }
            case "chat", "completions" -> {
                authorize(ex);
                requireMethod(method, "POST");
                return generate(ex, endpoint.equals("chat"));
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    authorize(ex);
                    String id = path.substring("/v1/models/".length());
                    if (id.equals(options.modelId())) {
                        return sendJson(ex, 200, model());
                    }
                    throw new ApiException(
                            404,
                            "invalid_request_error",
                            "The model '" + id + "' does not exist",
                            "model",
                            "model_not_found");
                }
                throw new ApiException(404, "invalid_request_error", "no such endpoint: " + path, null, null);
            }
        }
    }

    private static void requireMethod(String method, String expected) {
        if (!method.equalsIgnoreCase(expected)) {
            throw new ApiException(
                    405, "invalid_request_error", "use " + expected + " here, not " + method, null, null);
        }
    }

    /** A bearer token equal to the configured key, compared in constant time. */
    private void authorize(HttpExchange ex) {
        if (options.apiKey() == null) {
            return;
        }
        String header = ex.getRequestHeaders().getFirst("Authorization");
        String given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).trim()
                : "";
        if (!MessageDigest.isEqual(
                given.getBytes(StandardCharsets.UTF_8), options.apiKey().getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(
                    401,
                    "invalid_request_error",
                    header == null
                            ? "You didn't provide an API key: send it as 'Authorization: Bearer KEY'"
                            : "Incorrect API key provided",
                    null,
                    "invalid_api_key");
        }
    }

    private ObjectNode model() {
        return JSON.createObjectNode()
                .put("id", options.modelId())
                .put("object", "model")
                .put("created", created)
                .put("owned_by", "falcon-mamba-java");
    }

    private ObjectNode models() {
        ObjectNode list = JSON.createObjectNode().put("object", "list");
        list.putArray("data").add(model());
        return list;
    }

    // ---- generation ----

    private int generate(HttpExchange ex, boolean chat) throws IOException {
        JsonNode body = readJson(ex);
        OpenAiRequest req = OpenAiRequest.parse(body, chat, fm, options.modelId());
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        Job job = new Job(req.promptIds(), req.config(), fm.tokenizer(), deadline);
        if (!scheduler.submit(job)) {
            metrics.rejected.increment();
            ex.getResponseHeaders().set("Retry-After", "1");
            throw new ApiException(
                    429,
                    "rate_limit_exceeded",
                    "the server is busy: " + options.maxBatch() + " requests generating and " + options.maxQueue()
                            + " waiting; retry later",
                    null,
                    "rate_limit_exceeded");
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID();
        long createdAt = System.currentTimeMillis() / 1000;
        if (req.stream()) {
            return stream(ex, job, chat, id, createdAt, req.includeUsage());
        }
        Job.Outcome out;
        try (DisconnectWatcher.Watch _ =
                disconnects.watch(ex.getLocalAddress(), ex.getRemoteAddress(), () -> job.cancel("disconnected"))) {
            out = await(job);
        }
        ObjectNode choice = JSON.createObjectNode().put("index", 0);
        if (chat) {
            choice.putObject("message").put("role", "assistant").put("content", out.text());
        } else {
            choice.put("text", out.text());
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(out.stopReason()));
        ObjectNode resp = JSON.createObjectNode()
                .put("id", id)
                .put("object", chat ? "chat.completion" : "text_completion")
                .put("created", createdAt)
                .put("model", options.modelId());
        resp.putArray("choices").add(choice);
        resp.set("usage", usage(out));
        return sendJson(ex, 200, resp);
    }

    /**
     * Waits for a job that does not stream; a job that ends cancelled (timeout) is an error, one whose client left
     * (noticed by the {@link DisconnectWatcher}) an {@link IOException}, as when a write to the client fails.
     */
    private Job.Outcome await(Job job) throws IOException {
        try {
            Job.Outcome out =
                    job.outcome.get(options.requestTimeout().toNanos() + 5_000_000_000L, TimeUnit.NANOSECONDS);
            if (out.stopReason() == StopReason.CANCELLED && "disconnected".equals(out.cancelReason())) {
                throw new IOException("the client closed the connection");
            }
            if (out.stopReason() == StopReason.CANCELLED) {
                throw cancelled(out);
            }
            return out;
        } catch (InterruptedException e) {
            job.cancel("shutdown");
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", "the server is shutting down", null, null);
        } catch (TimeoutException e) {
            job.cancel("timeout");
            throw new ApiException(504, "timeout", "the request timed out", null, null);
        } catch (ExecutionException e) {
            throw new ApiException(500, "server_error", "generation failed: " + e.getCause(), null, null);
        }
    }

    private static ApiException cancelled(Job.Outcome out) {
        return "timeout".equals(out.cancelReason())
                ? new ApiException(504, "timeout", "the request timed out", null, null)
                : new ApiException(503, "server_error", "the request was cancelled: " + out.cancelReason(), null, null);
    }

    /**
     * Server-sent events in OpenAI's chunk format: a first chunk with the role (chat), one chunk per piece of text,
     * a last chunk with the finish reason, a usage chunk when asked, then {@code data: [DONE]}. A write that fails
     * (the client left) cancels the job, which leaves the batch at its next step.
     */
    private int stream(HttpExchange ex, Job job, boolean chat, String id, long createdAt, boolean includeUsage)
            throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        try {
            ex.sendResponseHeaders(200, 0);
            OutputStream os = ex.getResponseBody();
            if (chat) {
                ObjectNode delta =
                        JSON.createObjectNode().put("role", "assistant").put("content", "");
                event(os, chunk(chat, id, createdAt, delta, null, null));
            }
            while (true) {
                String piece = job.pieces.poll(50, TimeUnit.MILLISECONDS);
                if (piece == null) {
                    if (job.outcome.isDone() && job.pieces.isEmpty()) {
                        break;
                    }
                    continue;
                }
                ObjectNode delta = JSON.createObjectNode().put("content", piece);
                event(os, chunk(chat, id, createdAt, delta, piece, null));
            }
            Job.Outcome out;
            try {
                out = job.outcome.get();
            } catch (ExecutionException e) {
                out = null;
                errorEvent(os, new ApiException(500, "server_error", "generation failed: " + e.getCause(), null, null));
            }
            if (out != null && out.stopReason() == StopReason.CANCELLED) {
                errorEvent(os, cancelled(out));
            } else if (out != null) {
                event(
                        os,
                        chunk(
                                chat,
                                id,
                                createdAt,
                                JSON.createObjectNode(),
                                chat ? null : "",
                                finishReason(out.stopReason())));
                if (includeUsage) {
                    ObjectNode u = chunkBase(chat, id, createdAt);
                    u.putArray("choices");
                    u.set("usage", usage(out));
                    event(os, u);
                }
            }
            os.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            os.flush();
            return 200;
        } catch (IOException e) {
            job.cancel("disconnected");
            throw e;
        } catch (InterruptedException e) {
            job.cancel("shutdown");
            Thread.currentThread().interrupt();
            return 503;
        }
    }

    private ObjectNode chunkBase(boolean chat, String id, long createdAt) {
        return JSON.createObjectNode()
                .put("id", id)
                .put("object", chat ? "chat.completion.chunk" : "text_completion")
                .put("created", createdAt)
                .put("model", options.modelId());
    }

    private ObjectNode chunk(boolean chat, String id, long createdAt, ObjectNode delta, String text, String finish) {
        ObjectNode c = chunkBase(chat, id, createdAt);
        ArrayNode choices = c.putArray("choices");
        ObjectNode choice = choices.addObject().put("index", 0);
        if (chat) {
            choice.set("delta", delta);
        } else {
            choice.put("text", text);
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        return c;
    }

    private static void event(OutputStream os, JsonNode data) throws IOException {
        os.write(("data: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        os.flush();
    }

    private static void errorEvent(OutputStream os, ApiException e) throws IOException {
        event(os, errorBody(e));
    }

    private static ObjectNode usage(Job.Outcome out) {
        ObjectNode u = JSON.createObjectNode()
                .put("prompt_tokens", out.promptTokens())
                .put("completion_tokens", out.completionTokens())
                .put("total_tokens", out.promptTokens() + out.completionTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", out.cachedTokens());
        return u;
    }

    private static String finishReason(StopReason r) {
        return r == StopReason.LENGTH ? "length" : "stop";
    }

    // ---- plumbing ----

    /** The body as JSON, refused beyond {@link ServerOptions#maxBodyBytes()} without reading it all. */
    private JsonNode readJson(HttpExchange ex) throws IOException {
        int max = options.maxBodyBytes();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > max) {
                    throw tooLarge(ex, max);
                }
            } catch (NumberFormatException e) {
                throw ApiException.invalid("bad Content-Length: " + length, null);
            }
        }
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(max + 1);
        }
        if (bytes.length > max) {
            throw tooLarge(ex, max);
        }
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw ApiException.invalid("the request body is empty: send a JSON object", null);
            }
            return node;
        } catch (JsonProcessingException e) {
            throw ApiException.invalid("the request body is not valid JSON: " + e.getOriginalMessage(), null);
        }
    }

    /** Bodies up to this much beyond the limit are read and dropped before the 413 (see {@link #tooLarge}). */
    private static final long DRAIN_BYTES = 64L << 20;

    /**
     * The 413 for a body over {@code max}. The rest of the body is read and dropped first (up to
     * {@link #DRAIN_BYTES}): a connection closed with request bytes unread is reset, and the client, still
     * sending, would then see a broken connection instead of the error.
     */
    private static ApiException tooLarge(HttpExchange ex, int max) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            long left = DRAIN_BYTES;
            byte[] buffer = new byte[64 << 10];
            int n;
            while (left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0) {
                left -= n;
            }
        }
        return new ApiException(
                413, "invalid_request_error", "the request body is larger than " + max + " bytes", null, null);
    }

    private static int sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        return status;
    }

    private static ObjectNode errorBody(ApiException e) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode err = body.putObject("error")
                .put("message", e.getMessage())
                .put("type", e.type)
                .put("param", e.param)
                .put("code", e.code);
        Objects.requireNonNull(err);
        return body;
    }

    private static void sendError(HttpExchange ex, ApiException e) {
        try {
            sendJson(ex, e.status, errorBody(e));
        } catch (IOException | RuntimeException ignored) {
            // the client left, or the headers were already sent (a streamed reply reports errors in-band)
        }
    }
}
