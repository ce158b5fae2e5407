package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quantized models against the same model unquantized, on every fixture's reference prompts (all positions'
 * logits, parallel and chunked prefill, then decode steps), plus the demo model.
 *
 * <p>Tolerances come from the measured error. The fixtures are random-init models (no redundancy to average
 * quantization noise away) with logits of magnitude up to ~3.5. Measured against the unquantized model over
 * all positions of both reference prompts, parallel and chunked, plus 6 decode steps: Q8_0 max |Δlogit|
 * 0.039–0.043, mean 0.0064–0.0067; Q4_0 max 0.54–0.71, mean 0.10–0.11 (its step is 127/8 ≈ 16× coarser). The
 * bounds are ~2.3× the measured maximum and ~2.3× the mean: Q8_0 max 0.1 / mean 0.015, Q4_0 max 1.5 / mean 0.25.
 * A real bug (a swapped nibble order, a lost scale sign, a block off by one) gives errors of the logits' own
 * size, mean ≥ 0.5. Greedy ids must agree wherever the unquantized top-2 margin exceeds twice the max bound;
 * overall agreement is printed (Q8_0 118–120 of 120, Q4_0 88–114 of 120 on these random models). Two fixtures
 * (hidden 40 and 36) have no matrix whose rows split into 32-blocks: they must come out unchanged.
 */
class QuantizedModelTest {

    static final double Q8_TOL = 0.1;
    static final double Q8_MEAN_TOL = 0.015;
    static final double Q4_TOL = 1.5;
    static final double Q4_MEAN_TOL = 0.25;

    static double tol(Quantization q) {
        return q == Quantization.Q8_0 ? Q8_TOL : Q4_TOL;
    }

    static double meanTol(Quantization q) {
        return q == Quantization.Q8_0 ? Q8_MEAN_TOL : Q4_MEAN_TOL;
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Quantization q : List.of(Quantization.Q8_0, Quantization.Q4_0)) {
            for (String m : Fixtures.ALL_MODELS) {
                out.add(Arguments.of(m, q));
            }
        }
        return out.stream();
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    static float margin(float[] a) {
        int best = argmax(a);
        float second = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < a.length; i++) {
            if (i != best) {
                second = Math.max(second, a[i]);
            }
        }
        return a[best] - second;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void logitsCloseToUnquantized(String name, Quantization q) {
        Reference ref = Reference.of(name);
        try (FalconMambaModel base = Fixtures.loadModel(name, 2);
                FalconMambaModel quant = Fixtures.loadModel(name, 2, q)) {
            assertEquals(q, quant.quantization());
            double maxErr = 0;
            double sumErr = 0;
            long count = 0;
            int agree = 0;
            int positions = 0;
            for (int s = 0; s < ref.sequences(); s++) {
                int[] ids = ref.inputIds(s);
                for (PrefillMode mode : List.of(PrefillMode.PARALLEL, PrefillMode.chunked(3))) {
                    SequenceState bs = base.newState();
                    SequenceState qs = quant.newState();
                    float[][] bl = base.prefillAllLogits(bs, ids, mode);
                    float[][] ql = quant.prefillAllLogits(qs, ids, mode);
                    List<float[][]> pairs = new ArrayList<>();
                    for (int t = 0; t < ids.length; t++) {
                        pairs.add(new float[][] {bl[t], ql[t]});
                    }
                    // then a few decode steps fed the unquantized model's greedy ids
                    for (int step = 0; step < 6; step++) {
                        int next = argmax(bs.logits());
                        float[] b = base.decode(bs, next).clone();
                        float[] qd = quant.decode(qs, next).clone();
                        pairs.add(new float[][] {b, qd});
                    }
                    for (float[][] p : pairs) {
                        for (int i = 0; i < p[0].length; i++) {
                            double e = Math.abs((double) p[0][i] - p[1][i]);
                            maxErr = Math.max(maxErr, e);
                            sumErr += e;
                            count++;
                        }
                        positions++;
                        boolean same = argmax(p[0]) == argmax(p[1]);
                        agree += same ? 1 : 0;
                        if (margin(p[0]) > 2 * tol(q)) {
                            assertTrue(same, "greedy id differs where the top-2 margin is " + margin(p[0]));
                        }
                    }
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "quant %-28s %s: max |Δlogit| %.4g, mean %.3g, greedy agree %d/%d, %d of %d weight bytes%n",
                    name,
                    q.label(),
                    maxErr,
                    sumErr / count,
                    agree,
                    positions,
                    quant.weightBytesPerToken(),
                    base.weightBytesPerToken());
            assertTrue(maxErr <= tol(q), "max |Δlogit| " + maxErr + " > " + tol(q));
            assertTrue(sumErr / count <= meanTol(q), "mean |Δlogit| " + sumErr / count + " > " + meanTol(q));
            assertTrue(
                    maxErr > 0 || quant.weightBytesPerToken() == base.weightBytesPerToken(),
                    "quantization changed nothing");
        }
    }

    @Test
    void noneIsTheUnquantizedModel() {
        try (FalconMambaModel base = Fixtures.loadModel("tiny-mamba", 1);
                FalconMambaModel none = Fixtures.loadModel("tiny-mamba", 1, Quantization.NONE)) {
            int[] ids = Reference.of("tiny-mamba").inputIds(0);
            float[] a = base.prefill(base.newState(), ids, PrefillMode.PARALLEL).clone();
            float[] b = none.prefill(none.newState(), ids, PrefillMode.PARALLEL).clone();
            // Same bytes, same kernels; only the JIT tier can move the last bits (see WeightStorageTest.SAME).
            assertTrue(Fixtures.maxAbsDiff(a, b) <= WeightStorageTest.SAME);
            assertEquals(Quantization.NONE, none.quantization());
        }
    }

    @Test
    void quantizedWeightsAreSmallerAndFreedOnClose() {
        FalconMambaModel base = Fixtures.loadModel("tiny-falcon-mamba", 1);
        FalconMambaModel q8 = Fixtures.loadModel("tiny-falcon-mamba", 1, Quantization.Q8_0);
        FalconMambaModel q4 = Fixtures.loadModel("tiny-falcon-mamba", 1, Quantization.Q4_0);
        // F32 fixture: every matrix but dt_proj (8 columns) shrinks 32·4 → 34 (Q8_0) or 18 (Q4_0) bytes per block.
        assertTrue(
                q8.weightBytesPerToken() < base.weightBytesPerToken() / 3,
                q8.weightBytesPerToken() + " vs " + base.weightBytesPerToken());
        assertTrue(q4.weightBytesPerToken() < q8.weightBytesPerToken());
        int[] ids = Reference.of("tiny-falcon-mamba").inputIds(0);
        SequenceState s = q8.newState();
        q8.prefill(s, ids, PrefillMode.PARALLEL);
        q8.close();
        q4.close();
        base.close();
        // the off-heap blocks are gone: using the closed model fails cleanly instead of reading freed memory
        assertThrows(IllegalStateException.class, () -> q8.decode(s, 1));
    }
}
