package io.falconmamba.core.generation;

/**
 * One sequence of a {@link BatchGenerator} run: its prompt, its own settings and stop rules.
 *
 * @param prompt        the prompt ids (at least one)
 * @param config        its generation settings (sampling, seed, stop tokens, max tokens, prefill mode)
 * @param listener      receives its tokens as they are sampled (may be null)
 * @param stopCondition extra stop rule (may be null; required when the config has stop strings)
 * @param cancellation  cancels this sequence only (may be null)
 */
public record BatchRequest(
        int[] prompt,
        GenerationConfig config,
        TokenListener listener,
        StopCondition stopCondition,
        CancellationToken cancellation) {

    public BatchRequest {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null");
        }
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        prompt = prompt.clone();
    }

    public BatchRequest(int[] prompt, GenerationConfig config) {
        this(prompt, config, null, null, null);
    }

    public BatchRequest(int[] prompt, GenerationConfig config, TokenListener listener) {
        this(prompt, config, listener, null, null);
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }

    int[] promptView() {
        return prompt;
    }
}
