package io.falconmamba.core.generation;

import java.util.Arrays;

/**
 * The ids a sequence has seen (prompt and generated), with the set of distinct ids kept incrementally so the
 * repetition penalty costs O(distinct ids) per token instead of a scan of the whole history.
 */
final class TokenHistory {

    private final int vocabSize;
    private int[] ids;
    private int size;
    private final boolean[] seen;
    private int[] distinct;
    private int distinctCount;

    TokenHistory(int vocabSize) {
        this.vocabSize = vocabSize;
        this.ids = new int[64];
        this.seen = new boolean[vocabSize];
        this.distinct = new int[64];
    }

    private TokenHistory(TokenHistory o) {
        this.vocabSize = o.vocabSize;
        this.ids = Arrays.copyOf(o.ids, Math.max(o.size, 16));
        this.size = o.size;
        this.seen = o.seen.clone();
        this.distinct = Arrays.copyOf(o.distinct, Math.max(o.distinctCount, 16));
        this.distinctCount = o.distinctCount;
    }

    TokenHistory copy() {
        return new TokenHistory(this);
    }

    int vocabSize() {
        return vocabSize;
    }

    /** Appends one id; it must already have been checked against the vocabulary. */
    void add(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
        ids[size++] = id;
        if (!seen[id]) {
            seen[id] = true;
            if (distinctCount == distinct.length) {
                distinct = Arrays.copyOf(distinct, distinct.length * 2);
            }
            distinct[distinctCount++] = id;
        }
    }

    void addAll(int[] tokens) {
        for (int t : tokens) {
            add(t);
        }
    }

    int size() {
        return size;
    }

    int get(int i) {
        return ids[i];
    }

    int[] toArray() {
        return Arrays.copyOf(ids, size);
    }

    /** The distinct ids seen, in first-seen order; only the first {@link #distinctCount()} entries are valid. */
    int[] distinctIds() {
        return distinct;
    }

    int distinctCount() {
        return distinctCount;
    }

    /** Checks ids against the vocabulary, naming what they are ({@code what}) and the first bad index. */
    static void checkIds(int[] tokens, int vocabSize, String what) {
        for (int i = 0; i < tokens.length; i++) {
            int t = tokens[i];
            if (t < 0 || t >= vocabSize) {
                throw new IllegalArgumentException(what + " token id " + t + " at index " + i
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
    }
}
