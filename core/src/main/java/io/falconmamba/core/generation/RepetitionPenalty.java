package io.falconmamba.core.generation;

/**
 * Hugging Face's {@code RepetitionPenaltyLogitsProcessor}: every id already present in the sequence (prompt and
 * generated, each distinct id once) has its logit divided by the penalty when positive and multiplied by it when
 * negative, so a penalty above 1 always makes a seen token less likely.
 */
final class RepetitionPenalty {

    private RepetitionPenalty() {}

    /** Applies the penalty in place to {@code scores} (indexed by id) for the distinct ids of {@code history}. */
    static void apply(float[] scores, TokenHistory history, float penalty) {
        int[] distinct = history.distinctIds();
        int n = history.distinctCount();
        for (int i = 0; i < n; i++) {
            int id = distinct[i];
            if (id >= scores.length) {
                continue; // an id past a vocabulary limit: never a candidate
            }
            float s = scores[id];
            scores[id] = s < 0f ? s * penalty : s / penalty;
        }
    }
}
