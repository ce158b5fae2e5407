package io.falconmamba.core.generation;

import java.util.Arrays;

/**
 * The tokens still allowed at one sampling step and their (processed) scores: the working set the logits
 * processors narrow down. Scores are indexed by token id; the candidate ids are a compact list that may be in
 * any order until a processor ranks them ({@link #isRanked()}: score descending, ties by ascending id). All
 * arrays are allocated once per generation and reused for every token.
 */
final class Candidates {

    private final float[] scores;
    private final int[] ids;
    private final long[] keys;
    private final double[] weights;
    private int size;
    private boolean ranked;

    Candidates(int vocabSize) {
        this.scores = new float[vocabSize];
        this.ids = new int[vocabSize];
        this.keys = new long[vocabSize];
        this.weights = new double[vocabSize];
    }

    /** Starts a step: every token is a candidate with its raw logit (NaN counts as -inf). */
    void reset(float[] logits) {
        int n = scores.length;
        for (int i = 0; i < n; i++) {
            float s = logits[i];
            scores[i] = s != s ? Float.NEGATIVE_INFINITY : s;
            ids[i] = i;
        }
        size = n;
        ranked = false;
    }

    int vocabSize() {
        return scores.length;
    }

    /** Scores by token id (the processors write into it). */
    float[] scores() {
        return scores;
    }

    int size() {
        return size;
    }

    int id(int i) {
        return ids[i];
    }

    float score(int tokenId) {
        return scores[tokenId];
    }

    /** Whether the candidate list is in rank order (score descending, ties by ascending id). */
    boolean isRanked() {
        return ranked;
    }

    /** The largest candidate score. */
    float maxScore() {
        if (ranked) {
            return scores[ids[0]];
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            float s = scores[ids[i]];
            if (s > max) {
                max = s;
            }
        }
        return max;
    }

    /** Keeps only candidates whose score is >= {@code threshold}, in their current order. */
    void keepAtLeast(float threshold) {
        int w = 0;
        for (int i = 0; i < size; i++) {
            int id = ids[i];
            if (scores[id] >= threshold) {
                ids[w++] = id;
            }
        }
        size = w > 0 ? w : keepFirstOnly();
    }

    private int keepFirstOnly() {
        // nothing passed (cannot happen for a threshold <= max); keep the best so a token can always be drawn
        int best = ids[0];
        for (int i = 1; i < size; i++) {
            if (scores[ids[i]] > scores[best]) {
                best = ids[i];
            }
        }
        ids[0] = best;
        return 1;
    }

    /** Keeps only candidates with {@code exp(score - max) >= ratio}, in their current order (at least one). */
    void keepRatioAtLeast(float max, double ratio) {
        int w = 0;
        for (int i = 0; i < size; i++) {
            int id = ids[i];
            if (Math.exp((double) scores[id] - max) >= ratio) {
                ids[w++] = id;
            }
        }
        size = w > 0 ? w : keepFirstOnly();
    }

    /** Keeps the first {@code n} candidates of the current order. */
    void truncate(int n) {
        size = Math.max(1, Math.min(n, size));
    }

    /**
     * Unnormalised probabilities {@code exp(score - max)} of the candidates, in candidate order, written into a
     * reused array (valid up to {@link #size()}); returns their sum in double.
     */
    double weights(float max) {
        double sum = 0;
        for (int i = 0; i < size; i++) {
            double w = Math.exp((double) scores[ids[i]] - max);
            weights[i] = w;
            sum += w;
        }
        return sum;
    }

    /** The weights computed by the last {@link #weights(float)} call. */
    double[] weightBuffer() {
        return weights;
    }

    /** Renormalised probabilities of the candidates in candidate order (a new array; for tests and diagnostics). */
    double[] probabilities() {
        double sum = weights(maxScore());
        double[] p = new double[size];
        for (int i = 0; i < size; i++) {
            p[i] = weights[i] / sum;
        }
        return p;
    }

    /** The candidate ids in candidate order (a new array; for tests and diagnostics). */
    int[] ids() {
        return Arrays.copyOf(ids, size);
    }

    // ---- ranking by partial selection ------------------------------------------------------------------

    /** A long whose ascending order is (score descending, id ascending). */
    static long rankKey(float score, int id) {
        int bits = score == 0f ? 0 : Float.floatToIntBits(score);
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
        return ((long) ~ascending << 32) | (id & 0xffffffffL);
    }

    /** Fills the key array with the current candidates. */
    void loadKeys() {
        for (int i = 0; i < size; i++) {
            int id = ids[i];
            keys[i] = rankKey(scores[id], id);
        }
    }

    /** After {@link #loadKeys()}: the rank-{@code k} key (0-based) is put at {@code k}, smaller keys before it. */
    long selectKey(int k) {
        select(keys, size, k);
        return keys[k];
    }

    /**
     * After {@link #loadKeys()}: puts the best {@code m} candidates, in rank order, at the front of the key array.
     * Costs O(size + m log m), not a sort of all candidates.
     */
    void rankFront(int m) {
        if (m < size) {
            select(keys, size, m - 1);
        }
        Arrays.sort(keys, 0, m);
    }

    /** The key at position {@code i} of the key array. */
    long key(int i) {
        return keys[i];
    }

    /** Makes the first {@code n} ranked keys the candidate list (in rank order). */
    void takeRankedKeys(int n) {
        for (int i = 0; i < n; i++) {
            ids[i] = (int) keys[i];
        }
        size = n;
        ranked = true;
    }

    /** Quickselect: rearranges {@code a[0..n)} so that {@code a[k]} holds the value of rank k and smaller values precede it. */
    static void select(long[] a, int n, int k) {
        int lo = 0;
        int hi = n - 1;
        while (hi > lo) {
            if (hi - lo < 16) {
                insertionSort(a, lo, hi);
                return;
            }
            int mid = (lo + hi) >>> 1;
            // median of three as pivot
            if (a[mid] < a[lo]) {
                swap(a, mid, lo);
            }
            if (a[hi] < a[lo]) {
                swap(a, hi, lo);
            }
            if (a[hi] < a[mid]) {
                swap(a, hi, mid);
            }
            long pivot = a[mid];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    swap(a, i, j);
                    i++;
                    j--;
                }
            }
            if (k <= j) {
                hi = j;
            } else if (k >= i) {
                lo = i;
            } else {
                return;
            }
        }
    }

    private static void insertionSort(long[] a, int lo, int hi) {
        for (int i = lo + 1; i <= hi; i++) {
            long v = a[i];
            int j = i - 1;
            while (j >= lo && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
    }

    private static void swap(long[] a, int i, int j) {
        long t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
