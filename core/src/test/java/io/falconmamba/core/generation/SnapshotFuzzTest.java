package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.SequenceState;
import io.falconmamba.core.testutil.Fixtures;

/**
 * Coverage-guided fuzz target (Jazzer) for restoring saved state: {@link Session#restore} (checksummed) and, without
 * the checksum in the way, {@link FalconMambaModel#restoreState}. The first byte picks which. Every build replays the
 * seed corpus ({@code src/test/resources/.../SnapshotFuzzTestInputs/}); {@code JAZZER_FUZZ=1} fuzzes (tools/FUZZING.md).
 * The contract: an {@link IllegalArgumentException} naming the problem, or a state that generates finite logits,
 * or (for finite values no forward pass produces) an {@link IllegalStateException} saying the output is non-finite.
 */
class SnapshotFuzzTest {

    private static final FalconMambaModel MODEL = Fixtures.loadModel("tiny-falcon-mamba", 1);
    private static final GenerationConfig TWO_TOKENS =
            GenerationConfig.builder().maxNewTokens(2).build();

    @FuzzTest(maxDuration = "30s")
    void snapshotRestore(byte[] input) {
        if (input.length == 0) {
            return;
        }
        byte[] bytes = java.util.Arrays.copyOfRange(input, 1, input.length);
        if ((input[0] & 1) == 0) {
            Session s;
            try {
                s = Session.restore(MODEL, bytes);
            } catch (IllegalArgumentException expected) {
                return;
            }
            if (s.length() > 0) {
                int[] out;
                try {
                    out = s.generate(TWO_TOKENS).tokens();
                } catch (IllegalStateException named) {
                    assertTrue(named.getMessage().contains("output holds"), named.getMessage());
                    return;
                }
                for (int id : out) {
                    assertTrue(id >= 0 && id < MODEL.config().vocabSize(), "id " + id);
                }
            }
        } else {
            SequenceState state;
            try {
                state = MODEL.restoreState(bytes);
            } catch (IllegalArgumentException expected) {
                return;
            }
            float[] logits;
            try {
                logits = MODEL.decode(state, 1);
            } catch (IllegalStateException named) {
                assertTrue(named.getMessage().contains("output holds"), named.getMessage());
                return;
            }
            for (float f : logits) {
                assertTrue(Float.isFinite(f), "a restored state gave non-finite logits");
            }
        }
    }
}
