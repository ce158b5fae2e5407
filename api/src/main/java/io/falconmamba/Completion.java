package io.falconmamba;

import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.StopReason;

/**
 * The outcome of a text-level generation.
 *
 * @param text      the generated text (special tokens skipped)
 * @param promptIds the ids the prompt was encoded to (for a session turn: the ids appended this turn)
 * @param ids       the generated ids, stop token included as Hugging Face does
 * @param stopReason why generation stopped
 * @param stats     token counts and timings
 */
public record Completion(String text, int[] promptIds, int[] ids, StopReason stopReason, GenerationResult stats) {

    public Completion {
        promptIds = promptIds.clone();
        ids = ids.clone();
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
