package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ReferenceMamba} is the oracle: it matches transformers' float64 forward within the float32 rounding of the
 * stored outputs, and the engine matches it within the float32 tolerance of {@link ModelReferenceTest}.
 */
class ReferenceMambaTest {

    static Stream<String> models() {
        return Fixtures.ALL_MODELS.stream();
    }

    @ParameterizedTest
    @MethodSource("models")
    void referenceMatchesTransformersAndTheEngineMatchesTheReference(String model) {
        Reference golden = Reference.of(model);
        int[] ids = golden.inputIds(0);
        MambaConfig config = Fixtures.config(model);
        ReferenceMamba ref = new ReferenceMamba(config, Fixtures.weights(model));
        double[][] want = ref.logits(ids);

        float[][] hf = golden.tensors().rows("seq0.logits");
        for (int t = 0; t < ids.length; t++) {
            assertCloseToStored(want[t], hf[t], model + " position " + t + " logit ");
        }
        for (int l = 0; l < config.numLayers(); l++) {
            float[] hfState = golden.tensors().floats("seq0.layer" + l + ".ssm_state");
            double[][] s = ref.ssmState(l);
            double[] flat = new double[hfState.length];
            for (int i = 0; i < s.length; i++) {
                System.arraycopy(s[i], 0, flat, i * s[i].length, s[i].length);
            }
            assertCloseToStored(flat, hfState, model + " layer " + l + " ssm_state ");
        }

        try (FalconMambaModel engine = Fixtures.loadModel(model, 2)) {
            float[][] got = engine.prefillAllLogits(engine.newState(), ids, PrefillMode.PARALLEL);
            for (int t = 0; t < ids.length; t++) {
                double d = maxAbsDiff(want[t], got[t]);
                assertTrue(
                        d <= ModelReferenceTest.LOGIT_TOL,
                        model + " position " + t + ": engine against reference " + d);
            }
        }
    }

    /**
     * Transformers' float64 outputs are stored as float32: half an ulp is up to 4.8e-7 for the fixtures' logits
     * (|logit| < 8), and a double computation of the same thing lands within that rounding plus the difference
     * between two double-precision libraries (exp, log1p), far smaller. 1e-6 is about two ulps of the largest
     * logits; a real difference in the model (a dropped bias, a norm's eps, a state carried wrongly) moves them
     * by 1e-3 or more.
     */
    static final double REFERENCE_TOL = 1e-6;

    private static void assertCloseToStored(double[] want, float[] stored, String what) {
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(want[i] - stored[i]);
            assertTrue(d <= REFERENCE_TOL, what + i + ": " + want[i] + " against " + stored[i]);
        }
    }

    private static double maxAbsDiff(double[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
