package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The forward pass against Hugging Face transformers' float64 references, for every fixture model, sequence
 * and prefill mode.
 *
 * <p>Tolerance: the fixture README measures transformers' own float32 CPU forward at ≤ 1.7e-6 from the float64
 * reference, with logits ≤ ~3.5 in magnitude. A float32 engine with a different summation order (vector lanes,
 * tiles) can differ by a few times that; 1e-4 leaves ~60× headroom while any real bug (a dropped bias, a norm
 * with the wrong eps, a state carried wrongly) moves logits by 1e-2 or more.
 */
class ModelReferenceTest {

    static final double LOGIT_TOL = 1e-4;
    /** States and hidden values are O(1) like the logits; the same float32-rounding argument applies. */
    static final double STATE_TOL = 1e-4;

    static final Map<String, FalconMambaModel> MODELS = new HashMap<>();

    @BeforeAll
    static void load() {
        for (String m : Fixtures.ALL_MODELS) {
            MODELS.put(m, Fixtures.loadModel(m, 2));
        }
    }

    @AfterAll
    static void close() {
        MODELS.values().forEach(FalconMambaModel::close);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        List<PrefillMode> modes =
                List.of(PrefillMode.PARALLEL, PrefillMode.chunked(1), PrefillMode.chunked(5), PrefillMode.chunked(64));
        for (String m : Fixtures.ALL_MODELS) {
            for (int s = 0; s < 2; s++) {
                for (PrefillMode mode : modes) {
                    out.add(Arguments.of(m, s, mode));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} seq{1} {2}")
    @MethodSource("cases")
    void logitsStatesAndNormMatchReference(String model, int seq, PrefillMode mode) {
        FalconMambaModel fm = MODELS.get(model);
        Reference ref = Reference.of(model);
        int[] ids = ref.inputIds(seq);
        SequenceState state = fm.newState();
        float[][] logits = fm.prefillAllLogits(state, ids, mode);

        float[][] oneShot = ref.tensors().rows("seq" + seq + ".logits");
        String stepwiseName = "seq" + seq + ".stepwise_logits";
        float[][] stepwise = ref.tensors().has(stepwiseName) ? ref.tensors().rows(stepwiseName) : oneShot;
        assertEquals(ids.length, logits.length);
        for (int t = 0; t < ids.length; t++) {
            double d = Fixtures.maxAbsDiff(logits[t], oneShot[t]);
            assertTrue(d <= LOGIT_TOL, "position " + t + ": max |logit - one-shot reference| = " + d);
            double d2 = Fixtures.maxAbsDiff(logits[t], stepwise[t]);
            assertTrue(d2 <= LOGIT_TOL, "position " + t + ": max |logit - stepwise reference| = " + d2);
        }
        assertArrayEquals(logits[ids.length - 1], state.logits(), "state logits are the last position's");
        assertEquals(ids.length, state.position());

        MambaConfig c = fm.config();
        int hist = c.convKernel() - 1;
        for (int l = 0; l < c.numLayers(); l++) {
            double ds = Fixtures.maxAbsDiff(
                    state.ssmState(l), ref.tensors().floats("seq" + seq + ".layer" + l + ".ssm_state"));
            assertTrue(ds <= STATE_TOL, "layer " + l + " ssm_state differs by " + ds);
            float[] refConv = ref.tensors().floats("seq" + seq + ".layer" + l + ".conv_state");
            float[] lastCols = new float[c.intermediateSize() * hist];
            for (int ch = 0; ch < c.intermediateSize(); ch++) {
                System.arraycopy(refConv, ch * c.convKernel() + 1, lastCols, ch * hist, hist);
            }
            double dc = Fixtures.maxAbsDiff(state.convState(l), lastCols);
            assertTrue(dc <= STATE_TOL, "layer " + l + " conv_state differs by " + dc);
        }
        double dh = Fixtures.maxAbsDiff(state.hidden(), ref.tensors().floats("seq" + seq + ".last_hidden_norm_f"));
        assertTrue(dh <= STATE_TOL, "norm_f output differs by " + dh);
    }

    @ParameterizedTest(name = "{0} seq{1} decode steps")
    @MethodSource("decodeCases")
    void tokenByTokenDecodeMatchesReference(String model, int seq) {
        FalconMambaModel fm = MODELS.get(model);
        Reference ref = Reference.of(model);
        int[] ids = ref.inputIds(seq);
        float[][] oneShot = ref.tensors().rows("seq" + seq + ".logits");
        SequenceState state = fm.newState();
        for (int t = 0; t < ids.length; t++) {
            float[] logits = fm.decode(state, ids[t]);
            double d = Fixtures.maxAbsDiff(logits, oneShot[t]);
            assertTrue(d <= LOGIT_TOL, "decode step " + t + " differs by " + d);
        }
        // Then greedy continuation: the generated tokens' logits.
        float[][] gen = ref.tensors().rows("seq" + seq + ".generated_logits");
        int[] genIds = ref.generatedIds(seq);
        float[] logits = state.logits();
        for (int i = 0; i < genIds.length; i++) {
            double d = Fixtures.maxAbsDiff(logits, gen[i]);
            assertTrue(d <= LOGIT_TOL, "generated step " + i + " differs by " + d);
            logits = fm.decode(state, genIds[i]);
        }
    }

    static Stream<Arguments> decodeCases() {
        List<Arguments> out = new ArrayList<>();
        for (String m : Fixtures.ALL_MODELS) {
            for (int s = 0; s < 2; s++) {
                out.add(Arguments.of(m, s));
            }
        }
        return out.stream();
    }
}
