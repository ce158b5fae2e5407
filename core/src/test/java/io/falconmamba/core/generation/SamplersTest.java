package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Exact semantics of each logits processor and of the draw, on crafted logits with hand-computed results. */
class SamplersTest {

    private static final double EPS = 1e-6;

    private static float[] ln(double... probs) {
        float[] out = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            out[i] = (float) Math.log(probs[i]);
        }
        return out;
    }

    private static Candidates candidates(float... logits) {
        Candidates c = new Candidates(logits.length);
        c.reset(logits);
        return c;
    }

    private static TokenHistory history(int vocab, int... ids) {
        TokenHistory h = new TokenHistory(vocab);
        h.addAll(ids);
        return h;
    }

    /** id → renormalised probability of the surviving candidates. */
    private static Map<Integer, Double> probs(Candidates c) {
        int[] ids = c.ids();
        double[] p = c.probabilities();
        Map<Integer, Double> m = new HashMap<>();
        for (int i = 0; i < ids.length; i++) {
            m.put(ids[i], p[i]);
        }
        return m;
    }

    private static void assertProbs(Candidates c, int[] ids, double[] expected) {
        Map<Integer, Double> m = probs(c);
        assertEquals(ids.length, m.size(), () -> "kept " + m);
        for (int i = 0; i < ids.length; i++) {
            Double p = m.get(ids[i]);
            int id = ids[i];
            assertTrue(p != null, () -> "token " + id + " was removed: " + m);
            assertEquals(expected[i], p, EPS, "probability of token " + id);
        }
    }

    private static int[] sortedIds(Candidates c) {
        int[] ids = c.ids();
        Arrays.sort(ids);
        return ids;
    }

    // ---- greedy --------------------------------------------------------------------------------------

    @Test
    void greedyPicksMaxAndBreaksTiesTowardsLowestId() {
        assertEquals(1, Greedy.argmax(new float[] {1f, 3f, 3f, 2f}, 4));
        assertEquals(0, Greedy.argmax(new float[] {-1f, -1f}, 2));
        assertEquals(2, Greedy.argmax(new float[] {Float.NaN, 1f, 2f}, 3), "NaN never wins");
        assertEquals(3, Greedy.argmax(new float[] {Float.NEGATIVE_INFINITY, -5f, -7f, Float.POSITIVE_INFINITY}, 4));
    }

    // ---- repetition penalty (HF: logit < 0 ? logit * p : logit / p, each distinct seen id once) --------

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeOncePerDistinctId() {
        float[] scores = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
        RepetitionPenalty.apply(scores, history(5, 0, 1, 1, 1, 4), 2f);
        assertArrayEquals(new float[] {1.0f, -2.0f, 0.5f, 3.0f, 0.0f}, scores);
    }

    @Test
    void repetitionPenaltyBelowOneFavoursSeenTokens() {
        float[] scores = {2.0f, -1.0f};
        RepetitionPenalty.apply(scores, history(2, 0, 1), 0.5f);
        assertArrayEquals(new float[] {4.0f, -0.5f}, scores);
    }

    @Test
    void greedyWithRepetitionPenaltyAvoidsSeenToken() {
        GenerationConfig cfg = GenerationConfig.builder().repetitionPenalty(2).build();
        Sampler s = new Sampler(cfg, 3);
        // positive: 2.0/2 = 1.0 < 1.9
        assertEquals(1, s.next(new float[] {2.0f, 1.9f, 0f}, history(3, 0)));
        // negative: -1 * 2 = -2 < -1.5
        assertEquals(1, s.next(new float[] {-1.0f, -1.5f, -3f}, history(3, 0)));
        // unseen tokens are untouched: without history the max wins
        assertEquals(0, s.next(new float[] {2.0f, 1.9f, 0f}, history(3)));
    }

    // ---- temperature ------------------------------------------------------------------------------------

    @Test
    void temperatureDividesEveryScore() {
        Candidates c = candidates(1f, 2f, -3f);
        Temperature.apply(c, 0.5f);
        assertEquals(2f, c.score(0));
        assertEquals(4f, c.score(1));
        assertEquals(-6f, c.score(2));
        // probabilities ∝ exp(2), exp(4), exp(-6)
        double z = Math.exp(2) + Math.exp(4) + Math.exp(-6);
        assertProbs(c, new int[] {0, 1, 2}, new double[] {Math.exp(2) / z, Math.exp(4) / z, Math.exp(-6) / z});
    }

    // ---- top-k --------------------------------------------------------------------------------------------

    @Test
    void topKKeepsTheKBestAndRenormalises() {
        Candidates c = candidates(ln(0.1, 0.2, 0.3, 0.4));
        TopK.apply(c, 2);
        assertProbs(c, new int[] {3, 2}, new double[] {4.0 / 7, 3.0 / 7});
    }

    @Test
    void topKKeepsEveryTokenTiedWithTheKth() {
        Candidates c = candidates(4f, 3f, 3f, 1f, 3f);
        TopK.apply(c, 2); // the 2nd best score is 3: all three 3s stay (HF masks scores < kth value)
        assertArrayEquals(new int[] {0, 1, 2, 4}, sortedIds(c));

        Candidates d = candidates(1f, 5f, 3f, 5f, 2f);
        TopK.apply(d, 1);
        assertArrayEquals(new int[] {1, 3}, sortedIds(d));
    }

    @Test
    void topKOffOrLargerThanVocabKeepsAll() {
        Candidates c = candidates(1f, 2f, 3f);
        TopK.apply(c, 0);
        assertEquals(3, c.size());
        TopK.apply(c, 3);
        assertEquals(3, c.size());
        TopK.apply(c, 100);
        assertEquals(3, c.size());
    }

    @Test
    void topKOnLargeVocabMatchesFullSort() {
        Random r = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            int n = 5000;
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                logits[i] = (float) Math.round(r.nextGaussian() * 20) / 4f; // many ties
            }
            int k = 1 + r.nextInt(200);
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            float kth = sorted[n - k];
            Candidates c = candidates(logits);
            TopK.apply(c, k);
            int[] expected = java.util.stream.IntStream.range(0, n)
                    .filter(i -> logits[i] >= kth)
                    .toArray();
            assertArrayEquals(expected, sortedIds(c), "trial " + trial);
        }
    }

    // ---- top-p --------------------------------------------------------------------------------------------

    @Test
    void topPKeepsSmallestSetReachingTheMass() {
        // ids in shuffled order: p(2)=0.5, p(0)=0.3, p(3)=0.15, p(1)=0.05
        float[] logits = ln(0.3, 0.05, 0.5, 0.15);
        Candidates c = candidates(logits);
        TopP.apply(
                c, 0.9f); // mass before each: 0, .5, .8, .95 → the first three stay (HF: cumsum asc .05 <= .1 removed)
        assertProbs(c, new int[] {2, 0, 3}, new double[] {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95});
        assertTrue(c.isRanked());
        assertArrayEquals(new int[] {2, 0, 3}, c.ids(), "ranked best first");

        Candidates d = candidates(logits);
        TopP.apply(d, 0.6f); // mass before: 0, .5 → two stay; .8 ≥ .6 stops
        assertProbs(d, new int[] {2, 0}, new double[] {0.625, 0.375});

        Candidates e = candidates(logits);
        TopP.apply(e, 0.01f); // always at least the best token
        assertProbs(e, new int[] {2}, new double[] {1.0});
    }

    @Test
    void topPExactBoundaries() {
        // four equal tokens, each exactly 0.25 (exp(0) = 1, sums exact)
        float[] flat = {0f, 0f, 0f, 0f};
        Candidates c = candidates(flat);
        TopP.apply(c, 0.75f); // HF: ascending cumsum .25 ≤ 1-.75 → one token removed; a mass of exactly .75 suffices
        assertEquals(3, c.size());
        assertArrayEquals(new int[] {0, 1, 2}, c.ids(), "ties: lower ids stay");
        assertProbs(c, new int[] {0, 1, 2}, new double[] {1.0 / 3, 1.0 / 3, 1.0 / 3});

        Candidates d = candidates(flat);
        TopP.apply(d, 0.76f); // .75 < .76: all four needed
        assertEquals(4, d.size());

        Candidates e = candidates(flat);
        TopP.apply(e, 0.74f);
        assertEquals(3, e.size());

        Candidates f = candidates(0f, 0f);
        TopP.apply(f, 0.5f); // exactly half: one token reaches it
        assertEquals(1, f.size());
        assertEquals(0, f.id(0));

        Candidates g = candidates(flat);
        TopP.apply(g, 1f); // off
        assertEquals(4, g.size());
        assertFalse(g.isRanked());
    }

    @Test
    void topPOnLargeVocabGrowsTheHeadAndMatchesFullSort() {
        Random r = new Random(11);
        for (int trial = 0; trial < 20; trial++) {
            int n = 4000;
            float[] logits = new float[n];
            double spread = trial % 2 == 0 ? 0.1 : 3.0; // flat: the head must grow well past 64; peaked: it need not
            for (int i = 0; i < n; i++) {
                logits[i] = (float) (r.nextGaussian() * spread);
            }
            float p = 0.3f + 0.65f * r.nextFloat();
            Candidates c = candidates(logits);
            TopP.apply(c, p);
            assertArrayEquals(naiveTopP(logits, p), c.ids(), "trial " + trial + " p=" + p);
        }
    }

    /** Reference: full sort descending (ties by id), keep while the mass before the token is < p. */
    private static int[] naiveTopP(float[] logits, float p) {
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(
                order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        double max = logits[order[0]];
        double total = 0;
        for (float l : logits) {
            total += Math.exp(l - max);
        }
        int kept = 0;
        double before = 0;
        while (kept < order.length && (kept == 0 || before < p * total)) {
            before += Math.exp(logits[order[kept]] - max);
            kept++;
        }
        int[] out = new int[kept];
        for (int i = 0; i < kept; i++) {
            out[i] = order[i];
        }
        return out;
    }

    // ---- min-p --------------------------------------------------------------------------------------------

    @Test
    void minPKeepsTokensWithinAFactorOfTheBest() {
        float[] logits = ln(0.5, 0.3, 0.15, 0.05);
        Candidates c = candidates(logits);
        MinP.apply(c, 0.5f); // threshold 0.25
        assertProbs(c, new int[] {0, 1}, new double[] {0.625, 0.375});

        Candidates d = candidates(logits);
        MinP.apply(d, 0.2f); // threshold 0.1
        assertProbs(d, new int[] {0, 1, 2}, new double[] {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95});

        Candidates e = candidates(0f, 0f, -10f);
        MinP.apply(e, 1f); // ratio exactly 1 stays
        assertArrayEquals(new int[] {0, 1}, sortedIds(e));

        Candidates f = candidates(logits);
        MinP.apply(f, 0f); // off
        assertEquals(4, f.size());
    }

    // ---- the chain, in HF's order -----------------------------------------------------------------------

    @Test
    void chainAppliesPenaltyThenTemperatureThenTopKThenTopPThenMinP() {
        // penalty before top-k: token 0 (3.0 → 1.5) loses its place to token 1
        GenerationConfig cfg = GenerationConfig.builder()
                .doSample(true)
                .seed(1)
                .repetitionPenalty(2)
                .topK(1)
                .build();
        Candidates c = new Sampler(cfg, 3).process(new float[] {3f, 2.9f, 1f}, history(3, 0));
        assertArrayEquals(new int[] {1}, c.ids());

        // temperature before top-p: at T = 0.5 the probabilities ∝ p², so two tokens reach 0.9 instead of three
        GenerationConfig cfg2 = GenerationConfig.builder()
                .doSample(true)
                .seed(1)
                .temperature(0.5)
                .topP(0.9)
                .build();
        Candidates d = new Sampler(cfg2, 4).process(ln(0.5, 0.3, 0.15, 0.05), history(4));
        assertProbs(d, new int[] {0, 1}, new double[] {0.25 / 0.34, 0.09 / 0.34});

        // top-k before top-p: top-p's mass is renormalised over the top-k survivors
        // top-2 of (.4,.3,.2,.1) → (4/7, 3/7); top-p .5: mass before token 3 is 0 → keep, before token 2 is 4/7 ≥ .5 →
        // stop
        GenerationConfig cfg3 = GenerationConfig.builder()
                .doSample(true)
                .seed(1)
                .topK(2)
                .topP(0.5)
                .build();
        Candidates e = new Sampler(cfg3, 4).process(ln(0.1, 0.2, 0.3, 0.4), history(4));
        assertArrayEquals(new int[] {3}, e.ids());
        // without top-k the same top-p keeps the best two (.4 < .5)
        GenerationConfig cfg4 =
                GenerationConfig.builder().doSample(true).seed(1).topP(0.5).build();
        assertArrayEquals(
                new int[] {3, 2},
                new Sampler(cfg4, 4).process(ln(0.1, 0.2, 0.3, 0.4), history(4)).ids());

        // min-p after top-p, relative to the best survivor
        GenerationConfig cfg5 = GenerationConfig.builder()
                .doSample(true)
                .seed(1)
                .topP(0.9)
                .minP(0.5)
                .build();
        Candidates f = new Sampler(cfg5, 4).process(ln(0.5, 0.3, 0.15, 0.05), history(4));
        assertProbs(f, new int[] {0, 1}, new double[] {0.625, 0.375});
    }

    @Test
    void greedyIgnoresSamplingSettingsUnlessDoSample() {
        float[] logits = ln(0.1, 0.2, 0.3, 0.4);
        GenerationConfig notSampling = GenerationConfig.builder()
                .temperature(5)
                .topK(3)
                .topP(0.5)
                .seed(3)
                .build();
        GenerationConfig zeroTemperature =
                GenerationConfig.builder().doSample(true).temperature(0).seed(3).build();
        for (int i = 0; i < 50; i++) {
            assertEquals(3, new Sampler(notSampling, 4).next(logits, history(4)));
            assertEquals(3, new Sampler(zeroTemperature, 4).next(logits, history(4)));
        }
    }

    // ---- the draw -----------------------------------------------------------------------------------------

    @Test
    void seededDrawsRepeatExactlyAndFollowTheDistribution() {
        float[] logits = ln(0.5, 0.3, 0.2);
        int n = 10_000;
        int[] a = draws(logits, 42, n);
        int[] b = draws(logits, 42, n);
        assertArrayEquals(a, b, "same seed, same draws");
        int[] c = draws(logits, 43, n);
        assertFalse(Arrays.equals(a, c), "another seed, other draws");

        // Each frequency is a mean of n Bernoulli(p) draws: standard deviation sqrt(p(1-p)/n) <= 0.005 for n = 10k.
        // A tolerance of 0.02 is 4 standard deviations (a false failure has probability ~6e-5 per frequency, and the
        // draws are fixed by the seed, so the test cannot flicker).
        double[] expected = {0.5, 0.3, 0.2};
        for (int[] draws : new int[][] {a, c}) {
            int[] counts = new int[3];
            for (int t : draws) {
                counts[t]++;
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(expected[i], counts[i] / (double) n, 0.02, "frequency of token " + i);
            }
        }
    }

    @Test
    void drawNeverPicksARemovedToken() {
        GenerationConfig cfg =
                GenerationConfig.builder().doSample(true).seed(5).topK(2).build();
        Sampler s = new Sampler(cfg, 4);
        float[] logits = ln(0.1, 0.2, 0.3, 0.4);
        int[] counts = new int[4];
        for (int i = 0; i < 5000; i++) {
            counts[s.next(logits, history(4))]++;
        }
        assertEquals(0, counts[0]);
        assertEquals(0, counts[1]);
        // 4/7 ≈ 0.571, sd ≈ 0.007 at n = 5000; 0.03 is > 4 sd
        assertEquals(4.0 / 7, counts[3] / 5000.0, 0.03);
    }

    private static int[] draws(float[] logits, long seed, int n) {
        GenerationConfig cfg =
                GenerationConfig.builder().doSample(true).seed(seed).build();
        Sampler s = new Sampler(cfg, logits.length);
        TokenHistory h = history(logits.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.next(logits, h);
        }
        return out;
    }

    @Test
    void rankKeyOrdersByScoreDescendingThenId() {
        float[] scores = {Float.NEGATIVE_INFINITY, -2f, -0f, 0f, 1.5f, 1.5f, Float.POSITIVE_INFINITY, -1e-30f, 3e38f};
        long[] keys = new long[scores.length];
        for (int i = 0; i < scores.length; i++) {
            keys[i] = Candidates.rankKey(scores[i], i);
        }
        Arrays.sort(keys);
        int[] order = Arrays.stream(keys).mapToInt(k -> (int) k).toArray();
        assertArrayEquals(new int[] {6, 8, 4, 5, 2, 3, 7, 1, 0}, order);
    }

    @Test
    void selectPutsTheRankKElementInPlace() {
        Random r = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(300);
            long[] a = new long[n];
            for (int i = 0; i < n; i++) {
                a[i] = r.nextInt(50);
            }
            long[] sorted = a.clone();
            Arrays.sort(sorted);
            int k = r.nextInt(n);
            Candidates.select(a, n, k);
            assertEquals(sorted[k], a[k]);
            for (int i = 0; i < k; i++) {
                assertTrue(a[i] <= a[k]);
            }
            for (int i = k + 1; i < n; i++) {
                assertTrue(a[i] >= a[k]);
            }
        }
    }

    @Test
    void stopTokenSequencesMatchAcrossTokens() {
        StopCondition s = StopCondition.tokenSequences(java.util.List.of(new int[] {5, 6, 7}, new int[] {9}));
        assertFalse(s.shouldStop(5));
        assertFalse(s.shouldStop(6));
        assertFalse(s.shouldStop(8));
        assertFalse(s.shouldStop(5));
        assertFalse(s.shouldStop(6));
        assertTrue(s.shouldStop(7));
        StopCondition t = StopCondition.tokenSequences(java.util.List.of(new int[] {5, 6, 7}, new int[] {9}));
        assertTrue(t.shouldStop(9));
    }
}
