package io.falconmamba.cli;

import io.falconmamba.FalconMamba;
import io.falconmamba.server.FalconMambaServer;
import io.falconmamba.server.ServerOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code serve}: the OpenAI-compatible HTTP server (docs/server.md). */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = "Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, "
                + "/v1/models, /health, /metrics) with continuous batching and a recurrent-state prefix cache.")
final class ServeCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--host", paramLabel = "ADDR", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host = "127.0.0.1";

    @Option(
            names = "--port",
            paramLabel = "N",
            description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port = 8080;

    @Option(
            names = "--max-batch",
            paramLabel = "N",
            description = "Requests generating at once (default: ${DEFAULT-VALUE}).")
    int maxBatch = 8;

    @Option(
            names = "--max-queue",
            paramLabel = "N",
            description = "Requests waiting beyond those; more get 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue = 64;

    @Option(
            names = "--state-cache-mb",
            paramLabel = "MB",
            description = "Memory for cached conversation states; 0 turns the cache off (default: ${DEFAULT-VALUE}).")
    long stateCacheMb = 2048;

    @Option(
            names = "--state-spill-dir",
            paramLabel = "DIR",
            description = "Write states evicted from the state cache to DIR and load them back on a later hit. The"
                    + " server locks DIR and deletes its state files at start and exit: give each server its own.")
    Path stateSpillDir;

    @Option(
            names = "--state-spill-mb",
            paramLabel = "MB",
            description = "Disk for spilled states; the least recently used files are deleted beyond it (default:"
                    + " ${DEFAULT-VALUE}).")
    long stateSpillMb = 4096;

    @Option(
            names = "--api-key-file",
            paramLabel = "FILE",
            description = "A file holding the API key clients must send as 'Authorization: Bearer KEY'.")
    Path apiKeyFile;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            description = "Longest a request may wait and generate (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds = 600;

    @Option(
            names = "--model-id",
            paramLabel = "NAME",
            description = "The model name /v1/models lists (default: the model directory's name).")
    String modelId;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (stateCacheMb < 0) {
            throw new IllegalArgumentException("--state-cache-mb must be >= 0, got " + stateCacheMb);
        }
        if (stateSpillMb < 0) {
            throw new IllegalArgumentException("--state-spill-mb must be >= 0, got " + stateSpillMb);
        }
        if (timeoutSeconds < 1) {
            throw new IllegalArgumentException("--timeout must be at least 1 second, got " + timeoutSeconds);
        }
        String key = null;
        if (apiKeyFile != null) {
            key = Files.readString(apiKeyFile, StandardCharsets.UTF_8).strip();
            if (key.isEmpty()) {
                throw new IllegalArgumentException("--api-key-file " + apiKeyFile + " is empty");
            }
        }
        try (FalconMamba fm = modelOptions.load()) {
            ServerOptions options = ServerOptions.defaults(
                            modelId != null ? modelId : ServerOptions.modelIdOf(fm.directory()))
                    .withHost(host)
                    .withPort(port)
                    .withMaxBatch(maxBatch)
                    .withMaxQueue(maxQueue)
                    .withStateCacheBytes(stateCacheMb << 20)
                    .withStateSpillDir(stateSpillDir, stateSpillMb << 20)
                    .withApiKey(key)
                    .withRequestTimeout(java.time.Duration.ofSeconds(timeoutSeconds));
            try (FalconMambaServer server = FalconMambaServer.start(fm, options)) {
                Runtime.getRuntime().addShutdownHook(new Thread(server::close));
                Progress.note("serving " + options.modelId() + " at " + server.baseUri() + "/v1"
                        + (key != null ? " (API key required)" : ""));
                server.awaitTermination();
            }
        }
        return 0;
    }
}
