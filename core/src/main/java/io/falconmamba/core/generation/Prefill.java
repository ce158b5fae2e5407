package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import java.util.Arrays;

/** Feeds input tokens into a state, chunk by chunk when cancellable so a cancel is seen between chunks. */
final class Prefill {

    private Prefill() {}

    /** The logits after the last token, or null when cancelled between chunks (the state then holds a prefix). */
    static float[] feed(
            FalconMambaModel model, SequenceState state, int[] tokens, PrefillMode mode, CancellationToken cancel) {
        if (cancel == null || !(mode instanceof PrefillMode.Chunked chunked) || tokens.length <= chunked.chunkSize()) {
            return model.prefill(state, tokens, mode);
        }
        int c = chunked.chunkSize();
        float[] logits = null;
        for (int from = 0; from < tokens.length; from += c) {
            if (cancel.isCancelled()) {
                return null;
            }
            logits = model.prefill(state, Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + c)), mode);
        }
        return logits;
    }
}
