package io.falconmamba.core.generation;

import java.util.Arrays;
import java.util.Objects;

/**
 * The outcome of one generation.
 *
 * @param tokens        the generated ids, in order. Like Hugging Face's output ids this <b>includes</b> the stop token
 *                      when {@code stopReason == EOS}, and the tokens of a matched stop condition.
 * @param stopReason    why it ended
 * @param contextTokens tokens the generation was conditioned on: the prompt, or for a {@link Session} the whole
 *                      history before this generation
 * @param prefillNanos  time spent feeding input before the first token was sampled (the prompt; for a session the
 *                      tokens appended since the previous generation plus the pending token)
 * @param decodeNanos   time from the first sampled token's logits being ready to the end: sampling and decode steps
 */
public record GenerationResult(
        int[] tokens, StopReason stopReason, int contextTokens, long prefillNanos, long decodeNanos) {

    public GenerationResult {
        tokens = tokens.clone();
        Objects.requireNonNull(stopReason, "stopReason");
    }

    /** A copy of the generated ids. */
    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** Number of generated tokens. */
    public int tokenCount() {
        return tokens.length;
    }

    /** Generated token {@code i}. */
    public int token(int i) {
        return tokens[i];
    }

    /** Generated tokens per second of decode time (0 when no time was measured). */
    public double tokensPerSecond() {
        return decodeNanos <= 0 ? 0 : tokens.length * 1e9 / decodeNanos;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationResult r
                && Arrays.equals(tokens, r.tokens)
                && stopReason == r.stopReason
                && contextTokens == r.contextTokens
                && prefillNanos == r.prefillNanos
                && decodeNanos == r.decodeNanos;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(tokens), stopReason, contextTokens, prefillNanos, decodeNanos);
    }

    @Override
    public String toString() {
        return String.format(
                java.util.Locale.ROOT,
                "GenerationResult[tokens=%s, stopReason=%s, contextTokens=%d, "
                        + "prefillMs=%.3f, decodeMs=%.3f, tokensPerSecond=%.2f]",
                Arrays.toString(tokens),
                stopReason,
                contextTokens,
                prefillNanos / 1e6,
                decodeNanos / 1e6,
                tokensPerSecond());
    }
}
