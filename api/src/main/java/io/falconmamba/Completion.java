package io.falconmamba;

import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.StopReason;

/**
 * The outcome of a text-level generation.
 *
 * @param text            the generated text (special tokens skipped)
 * @param promptIds       the ids the prompt was encoded to (for a session turn: the ids appended this turn)
 * @param ids             the generated ids, stop token included as Hugging Face does
 * @param stopReason      why generation stopped
 * @param stats           token counts and timings
 * @param prefilledTokens prompt tokens the model had to consume for this completion: {@code promptIds.length},
 *                        less the prefix whose state came from a {@link PrefixCachedGenerator}'s cache
 */
public record Completion(
        String text, int[] promptIds, int[] ids, StopReason stopReason, GenerationResult stats, int prefilledTokens) {

    public Completion {
        promptIds = promptIds.clone();
        ids = ids.clone();
        if (prefilledTokens < 0 || prefilledTokens > promptIds.length) {
            throw new IllegalArgumentException(
                    "prefilledTokens must be in [0, " + promptIds.length + "], got " + prefilledTokens);
        }
    }

    /** A completion whose whole prompt was prefilled. */
    public Completion(String text, int[] promptIds, int[] ids, StopReason stopReason, GenerationResult stats) {
        this(text, promptIds, ids, stopReason, stats, promptIds.length);
    }

    @Override
    public int[] promptIds() {
        return promptIds.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }
}
