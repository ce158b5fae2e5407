package io.falconmamba;

import io.falconmamba.loader.hub.DownloadListener;
import io.falconmamba.loader.hub.ResolveOptions;

import java.util.Objects;

/**
 * How {@link FalconMamba#load(String, LoadOptions)} finds and prepares a model.
 *
 * @param threads  kernel threads (including the caller's); default: one per available processor
 * @param resolve  where to look for a repo id and whether downloading from the Hub is allowed (default: no download)
 */
public record LoadOptions(int threads, ResolveOptions resolve) {

    public LoadOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        Objects.requireNonNull(resolve, "resolve");
    }

    public static LoadOptions defaults() {
        return new LoadOptions(Runtime.getRuntime().availableProcessors(), ResolveOptions.defaults());
    }

    public LoadOptions withThreads(int threads) {
        return new LoadOptions(threads, resolve);
    }

    /** Allows (or forbids) downloading a repo id that is not in the local Hugging Face cache. */
    public LoadOptions withDownload(boolean allow, DownloadListener progress) {
        ResolveOptions.Builder b = resolve.toBuilder().allowDownload(allow);
        if (progress != null) {
            b.listener(progress);
        }
        return new LoadOptions(threads, b.build());
    }

    public LoadOptions withResolve(ResolveOptions resolve) {
        return new LoadOptions(threads, resolve);
    }
}
