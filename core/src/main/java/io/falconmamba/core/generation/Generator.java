package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.SequenceState;

/**
 * One-shot generation: the prompt is prefilled into a fresh {@link SequenceState} with the configured
 * {@link GenerationConfig#prefillMode()}, then tokens are sampled and fed back one at a time until a stop rule
 * fires. The last generated token is not fed to the model (nothing would read its logits). For conversations that
 * continue, see {@link Session}; for many sequences at once, {@link BatchGenerator}.
 *
 * <p>Thread-safe: the model is shared, everything else belongs to the call.
 */
public final class Generator {

    private Generator() {}

    public static GenerationResult generate(FalconMambaModel model, int[] prompt, GenerationConfig config) {
        return generate(model, prompt, config, null, null, null);
    }

    public static GenerationResult generate(
            FalconMambaModel model, int[] prompt, GenerationConfig config, TokenListener listener) {
        return generate(model, prompt, config, listener, null, null);
    }

    /**
     * @param listener      receives every generated id as soon as it is sampled (may be null)
     * @param stopCondition extra stop rule, e.g. stop strings from the tokenizer layer (may be null; required when
     *                      the config has stop strings)
     * @param cancellation  cancels from another thread (may be null)
     * @throws IllegalArgumentException for an empty prompt, an id outside the vocabulary, a stop token id outside the
     *                                  vocabulary, or stop strings without a stop condition
     */
    public static GenerationResult generate(
            FalconMambaModel model,
            int[] prompt,
            GenerationConfig config,
            TokenListener listener,
            StopCondition stopCondition,
            CancellationToken cancellation) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        return generate(model, null, prompt, config, listener, stopCondition, cancellation);
    }

    /** As the public method, into a given fresh state (null: a new one); tests read its logits from the listener. */
    static GenerationResult generate(
            FalconMambaModel model,
            SequenceState fresh,
            int[] prompt,
            GenerationConfig config,
            TokenListener listener,
            StopCondition stopCondition,
            CancellationToken cancellation) {
        int vocab = model.config().vocabSize();
        checkPrompt(prompt, vocab);
        TokenHistory history = new TokenHistory(vocab);
        history.addAll(prompt);
        GenerationRun run = new GenerationRun(config, history, listener, stopCondition, cancellation);
        if (!run.start()) {
            return run.result();
        }
        SequenceState state = fresh != null ? fresh : model.newState();
        long t0 = System.nanoTime();
        float[] logits = Prefill.feed(model, state, prompt, config.prefillMode(), cancellation);
        run.addPrefillNanos(System.nanoTime() - t0);
        if (logits == null) {
            run.cancel();
            return run.result();
        }
        while (true) {
            int token = run.sample(logits);
            if (token < 0) {
                break;
            }
            run.deliver(token);
            if (run.finished()) {
                break;
            }
            logits = model.decode(state, token);
        }
        return run.result();
    }

    static void checkPrompt(int[] prompt, int vocab) {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null");
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must contain at least one token");
        }
        TokenHistory.checkIds(prompt, vocab, "prompt");
    }
}
