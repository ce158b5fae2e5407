package io.falconmamba.core.generation;

/**
 * Hugging Face's {@code TopPLogitsWarper} (nucleus): keeps the smallest set of best tokens whose probability mass
 * reaches {@code topP}, at least one token.
 *
 * <p>HF sorts ascending and removes the tokens whose ascending cumulative probability is {@code <= 1 - topP}. With
 * the ranks descending that is: token i stays iff the mass of the tokens ranked before it is {@code < topP} (both
 * sums are exact complements). The mass is computed in double here (HF: float32), which only matters when a
 * cumulative sum lands within float noise of {@code topP}. Ties in score are ranked by ascending id (torch.sort gives
 * no order for ties), so at a boundary that splits tied tokens the lower ids stay.
 *
 * <p>Only the head of the distribution is ranked: the best 64 candidates are selected (quickselect) and sorted; if
 * their mass is below {@code topP} the head grows 4× and is selected again. A peaked distribution costs O(vocab).
 */
final class TopP {

    static final int FIRST_HEAD = 64;

    private TopP() {}

    static void apply(Candidates c, float topP) {
        if (topP >= 1f) {
            return;
        }
        int size = c.size();
        float max = c.maxScore();
        double total = c.weights(max);
        double target = topP * total;
        c.loadKeys();
        int m = c.isRanked() ? size : Math.min(size, FIRST_HEAD);
        double mass;
        while (true) {
            c.rankFront(m);
            mass = 0;
            for (int i = 0; i < m; i++) {
                mass += Math.exp((double) c.score((int) c.key(i)) - max);
            }
            if (mass >= target || m == size) {
                break;
            }
            m = (int) Math.min(size, (long) m * 4);
        }
        int kept = 0;
        double prefix = 0;
        while (kept < m && (kept == 0 || prefix < target)) {
            prefix += Math.exp((double) c.score((int) c.key(kept)) - max);
            kept++;
        }
        c.takeRankedKeys(kept);
    }
}
