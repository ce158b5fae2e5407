package io.falconmamba.core.generation;

import java.util.Arrays;

/**
 * The per-sequence bookkeeping of one generation, shared by {@link Generator}, {@link Session} and
 * {@link BatchGenerator}: the sampler, the generated ids, the listener and the stop rules. The driver owns the
 * model calls; this class decides. Protocol: {@link #start()}; then repeatedly {@link #sample(float[])} on fresh
 * logits and {@link #deliver(int)}; after each, feed the token and continue unless {@link #finished()}.
 */
final class GenerationRun {

    private final GenerationConfig config;
    private final Sampler sampler;
    private final TokenHistory history;
    private final TokenListener listener;
    private final StopCondition stopCondition;
    private final CancellationToken cancellation;
    private final int contextTokens;
    private int[] out;
    private int count;
    private StopReason reason;
    private long prefillNanos;
    private long decodeStart;
    private long decodeNanos;

    GenerationRun(
            GenerationConfig config,
            TokenHistory history,
            TokenListener listener,
            StopCondition stopCondition,
            CancellationToken cancellation) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        int vocab = history.vocabSize();
        for (int id : config.stopTokenIds()) {
            if (id >= vocab) {
                throw new IllegalArgumentException(
                        "stopTokenIds contains " + id + ", outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (!config.stopStrings().isEmpty() && stopCondition == null) {
            throw new IllegalArgumentException("stopStrings " + config.stopStrings() + " need a StopCondition that "
                    + "checks decoded text (core has no tokenizer): pass one, or clear stopStrings");
        }
        this.config = config;
        this.sampler = new Sampler(config, vocab);
        this.history = history;
        this.listener = listener == null ? TokenListener.NONE : listener;
        this.stopCondition = stopCondition;
        this.cancellation = cancellation;
        this.contextTokens = history.size();
        this.out = new int[Math.min(config.maxNewTokens(), 256)];
    }

    /** Before any model work: false (and finished) when nothing is to be generated or it is already cancelled. */
    boolean start() {
        if (config.maxNewTokens() == 0) {
            finish(StopReason.LENGTH);
        } else if (cancelled()) {
            finish(StopReason.CANCELLED);
        }
        return reason == null;
    }

    boolean cancelled() {
        return cancellation != null && cancellation.isCancelled();
    }

    CancellationToken cancellation() {
        return cancellation;
    }

    /** Ends the run as cancelled (e.g. during prefill). */
    void cancel() {
        finish(StopReason.CANCELLED);
    }

    void addPrefillNanos(long nanos) {
        prefillNanos += nanos;
    }

    /**
     * Samples the next token from fresh logits and records it (in the output and the history). Returns -1, finishing
     * the run as cancelled, when cancellation was requested before sampling.
     */
    int sample(float[] logits) {
        if (decodeStart == 0) {
            decodeStart = System.nanoTime();
        }
        if (cancelled()) {
            finish(StopReason.CANCELLED);
            return -1;
        }
        int token = sampler.next(logits, history);
        history.add(token);
        if (count == out.length) {
            out = Arrays.copyOf(out, (int) Math.min((long) out.length * 2 + 16, config.maxNewTokens()));
        }
        out[count++] = token;
        return token;
    }

    /** Hands the sampled token to the listener and applies the stop rules, in the order EOS, condition, length, cancel. */
    void deliver(int token) {
        listener.onToken(token);
        if (config.isStopToken(token)) {
            finish(StopReason.EOS);
        } else if (stopCondition != null && stopCondition.shouldStop(token)) {
            finish(StopReason.STOP_SEQUENCE);
        } else if (count >= config.maxNewTokens()) {
            finish(StopReason.LENGTH);
        } else if (cancelled()) {
            finish(StopReason.CANCELLED);
        }
    }

    boolean finished() {
        return reason != null;
    }

    int count() {
        return count;
    }

    private void finish(StopReason r) {
        if (reason == null) {
            reason = r;
            decodeNanos = decodeStart == 0 ? 0 : System.nanoTime() - decodeStart;
        }
    }

    GenerationResult result() {
        if (reason == null) {
            throw new IllegalStateException("generation has not finished");
        }
        return new GenerationResult(Arrays.copyOf(out, count), reason, contextTokens, prefillNanos, decodeNanos);
    }
}
