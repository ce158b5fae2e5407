package io.falconmamba.core.generation;

/**
 * Hugging Face's {@code TopKLogitsWarper}: keeps the tokens whose score is at least the k-th largest score. Tokens
 * tied with the k-th are all kept (HF masks {@code scores < topk(scores).values[-1]}), so more than k tokens can
 * survive. Found by quickselect, O(vocab), no sort.
 */
final class TopK {

    private TopK() {}

    static void apply(Candidates c, int k) {
        if (k <= 0 || k >= c.size()) {
            return;
        }
        c.loadKeys();
        long kth = c.selectKey(k - 1);
        float threshold = c.score((int) kth);
        c.keepAtLeast(threshold);
    }
}
