package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Copy, reset and byte round-trips of the recurrent state, and bad input to the forward entry points. */
class SequenceStateTest {

    static FalconMambaModel model;
    static FalconMambaModel mamba;
    static Reference ref;

    @BeforeAll
    static void load() {
        model = Fixtures.loadModel("tiny-falcon-mamba", 2);
        mamba = Fixtures.loadModel("tiny-mamba", 2);
        ref = Reference.of("tiny-falcon-mamba");
    }

    @AfterAll
    static void close() {
        model.close();
        mamba.close();
    }

    @Test
    void restoredStateContinuesExactlyAsTheOriginal() {
        int[] ids = ref.inputIds(1);
        int[] prompt = Arrays.copyOf(ids, 20);
        int[] rest = Arrays.copyOfRange(ids, 20, ids.length);
        SequenceState original = model.newState();
        model.prefill(original, prompt, PrefillMode.chunked(8));
        byte[] saved = original.toBytes();
        SequenceState restored = model.restoreState(saved);
        assertEquals(original.position(), restored.position());
        assertArrayEquals(original.logits(), restored.logits());
        assertArrayEquals(saved, restored.toBytes());

        float[][] a = model.prefillAllLogits(original, rest, PrefillMode.PARALLEL);
        float[][] b = model.prefillAllLogits(restored, rest, PrefillMode.PARALLEL);
        for (int t = 0; t < rest.length; t++) {
            assertArrayEquals(a[t], b[t], "position " + t + " after restore");
        }
        // And it is right, not merely equal: the continuation matches the one-shot reference.
        float[][] oneShot = ref.tensors().rows("seq1.logits");
        for (int t = 0; t < rest.length; t++) {
            assertTrue(
                    Fixtures.maxAbsDiff(b[t], oneShot[20 + t]) <= ModelReferenceTest.LOGIT_TOL, "position " + (20 + t));
        }
    }

    @Test
    void copyIsIndependentAndResetStartsOver() {
        int[] ids = ref.inputIds(0);
        SequenceState s = model.newState();
        model.prefill(s, ids, PrefillMode.PARALLEL);
        SequenceState fork = s.copy();
        float[] before = fork.logits().clone();
        model.decode(s, 5);
        assertArrayEquals(before, fork.logits(), "decoding the original must not touch its copy");
        assertEquals(ids.length, fork.position());
        assertEquals(ids.length + 1, s.position());

        s.reset();
        assertEquals(0, s.position());
        float[] again = model.prefill(s, ids, PrefillMode.PARALLEL).clone();
        assertArrayEquals(before, again, "after reset the same prompt gives the same logits");
    }

    @Test
    void restoreRejectsStateOfAnotherModelOrCorruptBytes() {
        SequenceState s = model.newState();
        model.prefill(s, ref.inputIds(0), PrefillMode.PARALLEL);
        byte[] bytes = s.toBytes();
        IllegalArgumentException wrongModel =
                assertThrows(IllegalArgumentException.class, () -> mamba.restoreState(bytes));
        assertTrue(wrongModel.getMessage().contains("architecture"), wrongModel.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.restoreState(Arrays.copyOf(bytes, bytes.length - 4)));
        assertThrows(IllegalArgumentException.class, () -> model.restoreState(new byte[3]));
        byte[] badVersion = bytes.clone();
        badVersion[4] = 99;
        IllegalArgumentException v = assertThrows(IllegalArgumentException.class, () -> model.restoreState(badVersion));
        assertTrue(v.getMessage().contains("version"), v.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.decode(mamba.newState(), 1));
    }

    @Test
    void badInputsAreClearErrorsAndLeaveTheStateUntouched() {
        SequenceState s = model.newState();
        model.prefill(s, ref.inputIds(0), PrefillMode.PARALLEL);
        byte[] before = s.toBytes();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.decode(s, 512));
        assertTrue(e.getMessage().contains("512") && e.getMessage().contains("vocabulary"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class, () -> model.prefill(s, new int[] {1, 2, -3}, PrefillMode.PARALLEL));
        assertTrue(e.getMessage().contains("-3") && e.getMessage().contains("position 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.prefill(s, new int[0], PrefillMode.PARALLEL));
        assertThrows(IllegalArgumentException.class, () -> PrefillMode.chunked(0));
        assertThrows(IllegalArgumentException.class, () -> PrefillMode.parse("chunked:x"));
        assertArrayEquals(before, s.toBytes(), "rejected input must not change the state");
    }

    @Test
    void stateSizeIsFixedByTheConfig() {
        MambaConfig c = model.config();
        SequenceState s = model.newState();
        assertEquals(
                (long) c.numLayers() * c.intermediateSize() * (c.convKernel() - 1 + c.stateSize()) * 4,
                s.recurrentBytes());
        int before = s.toBytes().length;
        model.prefill(s, ref.inputIds(1), PrefillMode.chunked(4));
        assertEquals(before, s.toBytes().length, "the state does not grow with the context");
    }
}
