package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.testutil.Fixtures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Session snapshots carry a version, the model's identity and a checksum: nothing corrupt restores silently. */
class SnapshotIntegrityTest {

    /** The reasons {@link Session#restore} gives; every rejection must name one of them. */
    static final List<String> REASONS = List.of(
            "checksum mismatch", "truncated", "followed by extra bytes", "bad magic", "version", "another model");

    static FalconMambaModel model;
    static byte[] snapshot;

    @BeforeAll
    static void load() {
        model = Fixtures.loadModel("tiny-falcon-mamba", 1);
        Session s = new Session(model);
        s.append(new int[] {1, 17, 42, 99, 5});
        s.generate(GenerationConfig.builder().maxNewTokens(4).build());
        snapshot = s.snapshot();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static String rejection(byte[] bytes) {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Session.restore(model, bytes), "accepted");
        String m = e.getMessage();
        assertTrue(REASONS.stream().anyMatch(m::contains), () -> "unspecific message: " + m);
        return m;
    }

    @Test
    void tenThousandSingleByteCorruptionsAreEachRejectedWithAReason() {
        SplittableRandom random = new SplittableRandom(2024);
        for (int i = 0; i < 10_000; i++) {
            byte[] bad = snapshot.clone();
            int at = random.nextInt(bad.length);
            bad[at] ^= (byte) (1 + random.nextInt(255));
            rejection(bad);
        }
    }

    @Test
    void tenThousandTruncationsAndExtensionsAreEachRejectedWithAReason() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 10_000; i++) {
            byte[] bad = Arrays.copyOf(snapshot, random.nextInt(snapshot.length));
            rejection(bad);
        }
        assertTrue(rejection(Arrays.copyOf(snapshot, snapshot.length + 3)).contains("extra bytes"));
    }

    @Test
    void nonFiniteStateIsRejectedEvenWithAValidChecksum() {
        for (float poison : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            byte[] bad = snapshot.clone();
            // payload: vocab, pending, hasLogits, count, ids, state length, then the state (52-byte header, floats LE)
            ByteBuffer b = ByteBuffer.wrap(bad);
            int count = b.getInt(24 + 9);
            int stateAt = 24 + 13 + 4 * count + 4;
            ByteBuffer.wrap(bad)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(stateAt + 52 + 4 * 10, poison); // conv window of layer 0
            CRC32C crc = new CRC32C();
            crc.update(bad, 24, bad.length - 24);
            b.putInt(20, (int) crc.getValue());
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> Session.restore(model, bad));
            assertTrue(e.getMessage().contains("conv window of layer 0"), e.getMessage());
            assertTrue(e.getMessage().contains(Float.toString(poison)), e.getMessage());
        }
    }

    /**
     * Found by the snapshot fuzz target: a restored state holding a finite value no forward pass produces (-1.7e38 in
     * an SSM state) made the next logits non-finite, silently. The model now refuses to hand out such logits.
     */
    @Test
    void aStateNoForwardPassProducesFailsLoudlyInsteadOfGivingNonFiniteLogits() {
        byte[] state = model.newState().toBytes();
        int layers = model.config().numLayers();
        int conv = (model.config().convKernel() - 1) * model.config().intermediateSize();
        int at = 52
                + 4
                        * (conv
                                + conv
                                + model.config().intermediateSize()
                                        * model.config().stateSize()
                                + 321);
        assertTrue(layers > 1);
        ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN).putFloat(at, -1.7014118e38f); // layer 1's SSM state
        io.falconmamba.core.SequenceState restored = model.restoreState(state);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> model.decode(restored, 1));
        assertTrue(e.getMessage().contains("output holds"), e.getMessage());
    }

    @Test
    void aSnapshotRestoresOnlyOnTheModelItWasMadeFor() {
        // The sharded fixture holds the same tensors: the same identity.
        try (FalconMambaModel sharded = Fixtures.loadModel("tiny-falcon-mamba-sharded", 1)) {
            assertEquals(model.identity(), sharded.identity());
            Session restored = Session.restore(sharded, snapshot);
            assertArrayEquals(Session.restore(model, snapshot).tokens(), restored.tokens());
        }
        // Same shape, other weights' storage: another model.
        for (String other : List.of("tiny-falcon-mamba-bf16", "tiny-mamba")) {
            try (FalconMambaModel m = Fixtures.loadModel(other, 1)) {
                IllegalArgumentException e =
                        assertThrows(IllegalArgumentException.class, () -> Session.restore(m, snapshot));
                assertTrue(e.getMessage().contains("another model"), e.getMessage());
            } catch (RuntimeException e) {
                fail(other + ": " + e);
            }
        }
    }
}
