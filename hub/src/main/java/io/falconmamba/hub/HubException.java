package io.falconmamba.hub;

import java.io.Serial;
import java.util.Objects;

/**
 * The one exception of model resolution: a bad path or repo id, a model that is neither local nor
 * cached, and every failure of a Hub download. Unchecked. The message always names the repo, file,
 * URL or path involved; {@link #reason()} lets a caller (the command line) react without parsing it.
 */
public class HubException extends RuntimeException {

    @Serial
    private static final long serialVersionUID = 1L;

    /** What went wrong, coarsely. */
    public enum Reason {
        /** The string is neither an existing directory nor a valid {@code org/name[@revision]} repo id. */
        INVALID_ID,
        /** A local directory or cached snapshot exists but is not a complete model. */
        INCOMPLETE_MODEL,
        /** Not local, not in the cache, and downloading was not allowed (or the Hub is offline). */
        NOT_FOUND,
        /** The repository or revision does not exist on the Hub. */
        REPO_NOT_FOUND,
        /** A required file does not exist in the repository (HTTP 404). */
        FILE_NOT_FOUND,
        /** HTTP 401/403: the repository is private or gated and needs a token. */
        AUTHENTICATION,
        /** Downloaded bytes disagree with the size or sha256 the Hub announced. */
        INTEGRITY,
        /** The server could not be reached, answered with an error, or stalled. */
        NETWORK,
        /** A local file-system failure while reading or writing the cache. */
        IO
    }

    private final Reason reason;

    public HubException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public HubException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** The kind of failure. */
    public Reason reason() {
        return reason;
    }
}
