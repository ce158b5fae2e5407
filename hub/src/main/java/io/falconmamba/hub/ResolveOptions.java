package io.falconmamba.hub;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How {@link ModelResolver} looks for a model. Immutable; build with {@link #builder()}.
 *
 * <p>Everything that normally comes from the process environment can be injected, so that tests (and
 * embedding applications) never depend on the real {@code HF_*} variables or home directory:
 * {@link Builder#env(Map)} replaces {@link System#getenv()} and {@link Builder#home(Path)} replaces
 * {@code user.home}. Explicit settings ({@link Builder#cacheDir}, {@link Builder#endpoint},
 * {@link Builder#token}) win over the environment.
 *
 * <p>Environment variables read (as huggingface_hub does): {@code HF_HUB_CACHE} (also the older
 * {@code HUGGINGFACE_HUB_CACHE}), {@code HF_HOME}, {@code XDG_CACHE_HOME}, {@code HF_ENDPOINT},
 * {@code HF_TOKEN} (also {@code HUGGING_FACE_HUB_TOKEN}, then the token file {@code HF_TOKEN_PATH} or
 * {@code $HF_HOME/token} that {@code hf auth login} writes), and {@code HF_HUB_OFFLINE}.
 */
public final class ResolveOptions {

    /** The public Hub. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    private final String revision;
    private final boolean allowDownload;
    private final Map<String, String> env;
    private final Path home;
    private final Path cacheDir;
    private final String endpoint;
    private final String token;
    private final DownloadListener listener;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final int maxAttempts;
    private final Duration retryBackoff;

    private ResolveOptions(Builder b) {
        this.revision = b.revision;
        this.allowDownload = b.allowDownload;
        this.env = b.env == null ? null : Map.copyOf(b.env);
        this.home = b.home;
        this.cacheDir = b.cacheDir;
        this.endpoint = b.endpoint;
        this.token = b.token;
        this.listener = b.listener;
        this.connectTimeout = b.connectTimeout;
        this.readTimeout = b.readTimeout;
        this.maxAttempts = b.maxAttempts;
        this.retryBackoff = b.retryBackoff;
    }

    /** Defaults: revision {@code main}, no download, the real environment and home directory. */
    public static ResolveOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this object's settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.revision = revision;
        b.allowDownload = allowDownload;
        b.env = env;
        b.home = home;
        b.cacheDir = cacheDir;
        b.endpoint = endpoint;
        b.token = token;
        b.listener = listener;
        b.connectTimeout = connectTimeout;
        b.readTimeout = readTimeout;
        b.maxAttempts = maxAttempts;
        b.retryBackoff = retryBackoff;
        return b;
    }

    /** The revision option, or {@code null} (an {@code @revision} suffix, else {@code main}). */
    public String revision() {
        return revision;
    }

    /** Whether a model that is neither local nor cached may be downloaded from the Hub. */
    public boolean allowDownload() {
        return allowDownload;
    }

    /** The environment variables consulted (the injected map, else {@link System#getenv()}). */
    public Map<String, String> env() {
        return env == null ? System.getenv() : env;
    }

    /** The home directory ({@code ~}): the injected one, else {@code user.home}. */
    public Path home() {
        return home != null ? home : Path.of(System.getProperty("user.home", "."));
    }

    /**
     * The hub cache root: the explicit cache dir, else {@code $HF_HUB_CACHE}, else
     * {@code $HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub},
     * else {@code ~/.cache/huggingface/hub}.
     */
    public Path cacheRoot() {
        if (cacheDir != null) {
            return cacheDir;
        }
        String hubCache = envValue("HF_HUB_CACHE");
        if (hubCache == null) {
            hubCache = envValue("HUGGINGFACE_HUB_CACHE");
        }
        if (hubCache != null) {
            return expandHome(hubCache);
        }
        return hfHome().resolve("hub");
    }

    /** {@code $HF_HOME}, else {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}. */
    Path hfHome() {
        String hfHome = envValue("HF_HOME");
        if (hfHome != null) {
            return expandHome(hfHome);
        }
        String xdg = envValue("XDG_CACHE_HOME");
        Path cache = xdg != null ? expandHome(xdg) : home().resolve(".cache");
        return cache.resolve("huggingface");
    }

    /** The Hub endpoint without a trailing slash: the explicit one, else {@code $HF_ENDPOINT}, else huggingface.co. */
    public String endpoint() {
        String e = endpoint != null ? endpoint : envValue("HF_ENDPOINT");
        if (e == null) {
            e = DEFAULT_ENDPOINT;
        }
        while (e.endsWith("/")) {
            e = e.substring(0, e.length() - 1);
        }
        return e;
    }

    /**
     * The access token, or {@code null}: the explicit one, else {@code $HF_TOKEN}, else
     * {@code $HUGGING_FACE_HUB_TOKEN}, else the first line of the token file ({@code $HF_TOKEN_PATH} or
     * {@code $HF_HOME/token}).
     */
    public String token() {
        if (token != null) {
            return token.isBlank() ? null : token.strip();
        }
        String t = envValue("HF_TOKEN");
        if (t == null) {
            t = envValue("HUGGING_FACE_HUB_TOKEN");
        }
        if (t != null) {
            return t.strip();
        }
        String tokenPath = envValue("HF_TOKEN_PATH");
        Path file = tokenPath != null ? expandHome(tokenPath) : hfHome().resolve("token");
        try {
            if (java.nio.file.Files.isRegularFile(file)) {
                String content = java.nio.file.Files.readString(file).strip();
                int nl = content.indexOf('\n');
                String first = (nl < 0 ? content : content.substring(0, nl)).strip();
                return first.isEmpty() ? null : first;
            }
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /** Whether {@code HF_HUB_OFFLINE} is set to a true value (1, true, yes, on). */
    public boolean offline() {
        String v = envValue("HF_HUB_OFFLINE");
        return v != null
                && switch (v.strip().toLowerCase(java.util.Locale.ROOT)) {
                    case "1", "true", "yes", "on" -> true;
                    default -> false;
                };
    }

    /** The progress listener (never null). */
    public DownloadListener listener() {
        return listener;
    }

    /** Time allowed to open a connection. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** Time allowed for a response's headers, and the longest a transfer may stall without a byte. */
    public Duration readTimeout() {
        return readTimeout;
    }

    /** Attempts per request (network errors, 5xx, 429 and cut transfers are retried; a cut transfer resumes). */
    public int maxAttempts() {
        return maxAttempts;
    }

    /** Pause before the second attempt; it grows linearly with each further attempt. */
    public Duration retryBackoff() {
        return retryBackoff;
    }

    String envValue(String name) {
        String v = env().get(name);
        return v == null || v.isBlank() ? null : v;
    }

    Path expandHome(String path) {
        if (path.equals("~")) {
            return home();
        }
        if (path.startsWith("~/") || path.startsWith("~" + java.io.File.separator)) {
            return home().resolve(path.substring(2));
        }
        return Path.of(path);
    }

    /** Builder of {@link ResolveOptions}. */
    public static final class Builder {
        private String revision;
        private boolean allowDownload;
        private Map<String, String> env;
        private Path home;
        private Path cacheDir;
        private String endpoint;
        private String token;
        private DownloadListener listener = DownloadListener.NONE;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration readTimeout = Duration.ofSeconds(60);
        private int maxAttempts = 5;
        private Duration retryBackoff = Duration.ofMillis(500);

        private Builder() {}

        /** The revision (branch, tag or commit); an {@code @revision} suffix on the repo id must agree. */
        public Builder revision(String revision) {
            this.revision = revision;
            return this;
        }

        /** Allow downloading from the Hub when the model is neither local nor cached (default false). */
        public Builder allowDownload(boolean allowDownload) {
            this.allowDownload = allowDownload;
            return this;
        }

        /** The environment variables to use instead of {@link System#getenv()} (null: the real one). */
        public Builder env(Map<String, String> env) {
            this.env = env;
            return this;
        }

        /** The home directory to use instead of {@code user.home} (null: the real one). */
        public Builder home(Path home) {
            this.home = home;
            return this;
        }

        /** The hub cache root, overriding the environment (null: from the environment). */
        public Builder cacheDir(Path cacheDir) {
            this.cacheDir = cacheDir;
            return this;
        }

        /** The Hub endpoint, overriding {@code HF_ENDPOINT} (null: from the environment). */
        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** The access token, overriding {@code HF_TOKEN} (null: from the environment; blank: none). */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** Download progress (null: none). */
        public Builder listener(DownloadListener listener) {
            this.listener = listener == null ? DownloadListener.NONE : listener;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        public Builder readTimeout(Duration timeout) {
            this.readTimeout = positive(timeout, "readTimeout");
            return this;
        }

        public Builder maxAttempts(int attempts) {
            if (attempts < 1 || attempts > 100) {
                throw new IllegalArgumentException("maxAttempts must be in 1..100, got " + attempts);
            }
            this.maxAttempts = attempts;
            return this;
        }

        public Builder retryBackoff(Duration backoff) {
            Objects.requireNonNull(backoff, "retryBackoff");
            if (backoff.isNegative()) {
                throw new IllegalArgumentException("retryBackoff must not be negative, got " + backoff);
            }
            this.retryBackoff = backoff;
            return this;
        }

        public ResolveOptions build() {
            return new ResolveOptions(this);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(what + " must be positive, got " + d);
            }
            return d;
        }
    }
}
