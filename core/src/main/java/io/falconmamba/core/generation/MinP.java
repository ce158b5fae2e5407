package io.falconmamba.core.generation;

/**
 * Hugging Face's {@code MinPLogitsWarper}: keeps the tokens whose probability is at least {@code minP} times the
 * probability of the most likely token, i.e. {@code exp(score - maxScore) >= minP} (computed in double). The best
 * token always stays (its ratio is 1).
 */
final class MinP {

    private MinP() {}

    static void apply(Candidates c, float minP) {
        if (minP <= 0f) {
            return;
        }
        c.keepRatioAtLeast(c.maxScore(), minP);
    }
}
