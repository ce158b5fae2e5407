package io.falconmamba.core.generation;

import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks the next token from a row of logits under one {@link GenerationConfig}: repetition penalty, then for
 * sampling temperature → top-k → top-p → min-p and a seeded draw (Hugging Face's order), or greedy arg max.
 * One sampler per generation: it owns the scratch arrays (allocated once, reused for every token) and the random
 * generator, so runs with the same seed are identical. Not thread-safe.
 */
final class Sampler {

    private final GenerationConfig config;
    private final int vocabSize;
    private final boolean sampling;
    private final boolean penalty;
    private final SplittableRandom random;
    private Candidates candidates;

    Sampler(GenerationConfig config, int vocabSize) {
        this.config = config;
        // Ids at or above the limit are left out of every step, as if their logits were -inf.
        this.vocabSize = config.vocabLimit() > 0 ? Math.min(vocabSize, config.vocabLimit()) : vocabSize;
        this.sampling = config.isSampling();
        this.penalty = config.repetitionPenalty() != 1f;
        long seed = config.seed().isPresent()
                ? config.seed().getAsLong()
                : ThreadLocalRandom.current().nextLong();
        this.random = sampling ? new SplittableRandom(seed) : null;
    }

    /**
     * The next token for these logits (only the first vocab entries are read; the array is not modified), given
     * the ids seen so far (for the repetition penalty).
     */
    int next(float[] logits, TokenHistory history) {
        if (logits.length < vocabSize) {
            throw new IllegalArgumentException(
                    "logits have " + logits.length + " entries, the vocabulary " + vocabSize);
        }
        boolean penalize = penalty && history.distinctCount() > 0;
        if (!sampling && !penalize) {
            return Greedy.argmax(logits, vocabSize);
        }
        Candidates c = process(logits, history);
        return sampling ? Categorical.draw(c, random) : Greedy.argmax(c.scores(), vocabSize);
    }

    /**
     * The logits processors alone, in Hugging Face's order: repetition penalty, then when sampling temperature,
     * top-k, top-p, min-p. Returns the surviving candidates (the sampler's reused working set).
     */
    Candidates process(float[] logits, TokenHistory history) {
        Candidates c = candidates();
        c.reset(logits);
        if (penalty && history.distinctCount() > 0) {
            RepetitionPenalty.apply(c.scores(), history, config.repetitionPenalty());
        }
        if (!sampling) {
            return c;
        }
        if (config.temperature() != 1f) {
            Temperature.apply(c, config.temperature());
        }
        TopK.apply(c, config.topK());
        TopP.apply(c, config.topP());
        MinP.apply(c, config.minP());
        return c;
    }

    private Candidates candidates() {
        if (candidates == null) {
            candidates = new Candidates(vocabSize);
        }
        return candidates;
    }
}
