package io.falconmamba.core.generation;

import java.util.Arrays;
import java.util.List;

/**
 * A stop rule evaluated after every generated token: the hook through which a layer that owns a tokenizer
 * implements {@link GenerationConfig#stopStrings()} (feed each id to an incremental detokenizer and look for the
 * strings in the text so far). Create one per generation: an implementation may keep state (decoded text, a match
 * prefix) between calls. When it returns true the generation ends with {@link StopReason#STOP_SEQUENCE}; the token
 * stays in the result (as Hugging Face keeps the tokens of a matched stop string).
 */
@FunctionalInterface
public interface StopCondition {

    /**
     * Called once per generated token, after the listener, unless the token was a stop token id.
     *
     * @param tokenId the token just generated
     * @return whether to stop now
     */
    boolean shouldStop(int tokenId);

    /**
     * Stops when the generated ids end with one of the given id sequences (a stop string that always tokenizes the same
     * way, or a multi-token end marker). Matches only within the ids of this generation.
     */
    static StopCondition tokenSequences(List<int[]> sequences) {
        int[][] seqs = new int[sequences.size()][];
        int longest = 0;
        for (int i = 0; i < seqs.length; i++) {
            int[] s = sequences.get(i);
            if (s == null || s.length == 0) {
                throw new IllegalArgumentException("stop token sequence " + i + " must not be empty");
            }
            seqs[i] = s.clone();
            longest = Math.max(longest, s.length);
        }
        int window = longest;
        return new StopCondition() {
            private final int[] recent = new int[window];
            private long count;

            @Override
            public boolean shouldStop(int tokenId) {
                recent[(int) (count % window)] = tokenId;
                count++;
                outer:
                for (int[] s : seqs) {
                    if (s.length > count) {
                        continue;
                    }
                    for (int j = 0; j < s.length; j++) {
                        long pos = count - s.length + j;
                        if (recent[(int) (pos % window)] != s[j]) {
                            continue outer;
                        }
                    }
                    return true;
                }
                return false;
            }

            @Override
            public String toString() {
                StringBuilder b = new StringBuilder("StopCondition.tokenSequences[");
                for (int i = 0; i < seqs.length; i++) {
                    b.append(i == 0 ? "" : ", ").append(Arrays.toString(seqs[i]));
                }
                return b.append(']').toString();
            }
        };
    }

    /** Stops when either condition stops (both see every token). */
    default StopCondition or(StopCondition other) {
        StopCondition self = this;
        return tokenId -> self.shouldStop(tokenId) | other.shouldStop(tokenId);
    }
}
