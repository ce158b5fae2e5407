package io.falconmamba.server;

import io.falconmamba.core.PrefillMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link FalconMambaServer} listens and how much it takes on.
 *
 * @param host           address to bind; loopback unless a caller says otherwise
 * @param port           TCP port; 0 picks a free one ({@link FalconMambaServer#port()} tells which)
 * @param maxBatch       sequences prefilling or decoding at once (the decode batch)
 * @param maxQueue       requests waiting for a slot; one more is answered 429
 * @param stateCacheBytes byte budget of the recurrent-state prefix cache (0 turns it off)
 * @param apiKey         bearer token every {@code /v1} request must carry, or null for none
 * @param requestTimeout longest a request may wait and generate; it is then cancelled
 * @param maxBodyBytes   largest request body; a larger one is answered 413
 * @param prefillChunk   prompt tokens prefilled between two decode steps (how long a new prompt may hold decoding up)
 * @param modelId        the name {@code /v1/models} lists and requests may give as {@code model}
 * @param stateSpillDir  directory that states evicted from the state cache are written to, or null for none; the
 *                       server locks it and deletes its state files at start and at close, so each server needs its
 *                       own
 * @param stateSpillBytes byte budget of the files in {@code stateSpillDir}
 */
public record ServerOptions(
        String host,
        int port,
        int maxBatch,
        int maxQueue,
        long stateCacheBytes,
        String apiKey,
        Duration requestTimeout,
        int maxBodyBytes,
        int prefillChunk,
        String modelId,
        Path stateSpillDir,
        long stateSpillBytes) {

    public ServerOptions {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        Objects.requireNonNull(modelId, "modelId");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        }
        if (maxQueue < 1) {
            throw new IllegalArgumentException("maxQueue must be >= 1, got " + maxQueue);
        }
        if (stateCacheBytes < 0) {
            throw new IllegalArgumentException("stateCacheBytes must be >= 0, got " + stateCacheBytes);
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("apiKey must not be blank (null for none)");
        }
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeout must be positive, got " + requestTimeout);
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("maxBodyBytes must be >= 1, got " + maxBodyBytes);
        }
        if (prefillChunk < 1) {
            throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
        }
        if (modelId.isBlank()) {
            throw new IllegalArgumentException("modelId must not be blank");
        }
        if (stateSpillBytes < 0) {
            throw new IllegalArgumentException("stateSpillBytes must be >= 0, got " + stateSpillBytes);
        }
    }

    /**
     * 127.0.0.1:8080, 8 sequences, 64 waiting, a 2 GiB state cache, no key, 10 minutes per request, 4 MiB bodies,
     * prefill chunks of {@link PrefillMode#DEFAULT_CHUNK} (the chunk {@code FalconMamba.generate} prefills with, so a
     * prompt is cut at the same places and gives the same bits), no state spill.
     */
    public static ServerOptions defaults(String modelId) {
        return new ServerOptions(
                "127.0.0.1",
                8080,
                8,
                64,
                2048L << 20,
                null,
                Duration.ofMinutes(10),
                4 << 20,
                PrefillMode.DEFAULT_CHUNK,
                modelId,
                null,
                0);
    }

    /** The name of a model directory, as {@code /v1/models} lists it. */
    public static String modelIdOf(Path directory) {
        Path name = directory.toAbsolutePath().normalize().getFileName();
        return name == null ? "falcon-mamba" : name.toString();
    }

    public ServerOptions withHost(String host) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withPort(int port) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withMaxBatch(int maxBatch) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withMaxQueue(int maxQueue) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withStateCacheBytes(long stateCacheBytes) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withApiKey(String apiKey) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withRequestTimeout(Duration requestTimeout) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withMaxBodyBytes(int maxBodyBytes) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    public ServerOptions withPrefillChunk(int prefillChunk) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                stateSpillDir,
                stateSpillBytes);
    }

    /**
     * Spills states evicted from the state cache to {@code directory} (created if missing), at most {@code maxBytes}
     * bytes of files; a null directory turns the spill off. The directory belongs to this server alone (it is locked;
     * a second server on it fails to start), and its state files are deleted at start and at close.
     */
    public ServerOptions withStateSpillDir(Path directory, long maxBytes) {
        return new ServerOptions(
                host,
                port,
                maxBatch,
                maxQueue,
                stateCacheBytes,
                apiKey,
                requestTimeout,
                maxBodyBytes,
                prefillChunk,
                modelId,
                directory,
                maxBytes);
    }
}
