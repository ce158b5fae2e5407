package io.falconmamba.core.generation;

import java.util.SplittableRandom;

/**
 * The draw: one candidate with probability proportional to {@code exp(score - max)} (the softmax of the surviving
 * scores), from one uniform double of the generator, walking the candidates in their current order.
 */
final class Categorical {

    private Categorical() {}

    static int draw(Candidates c, SplittableRandom random) {
        int n = c.size();
        float max = c.maxScore();
        double total = c.weights(max);
        double u = random.nextDouble() * total;
        if (!(total > 0) || Double.isInfinite(total)) {
            return c.id(0);
        }
        double[] w = c.weightBuffer();
        double cumulative = 0;
        int lastPositive = 0;
        for (int i = 0; i < n; i++) {
            double wi = w[i];
            if (wi > 0) {
                cumulative += wi;
                lastPositive = i;
                if (u < cumulative) {
                    return c.id(i);
                }
            }
        }
        return c.id(lastPositive); // rounding: u landed at the very top
    }
}
