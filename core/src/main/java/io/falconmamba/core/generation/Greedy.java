package io.falconmamba.core.generation;

/** Greedy decoding: the arg max of the scores; ties go to the lowest id (as {@code torch.argmax}); NaN never wins. */
final class Greedy {

    private Greedy() {}

    static int argmax(float[] scores, int n) {
        int best = 0;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float s = scores[i];
            if (s > max) {
                max = s;
                best = i;
            }
        }
        return best;
    }
}
