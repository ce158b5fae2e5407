package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A chat snapshot (conversation and state) restores only intact, on its own model. */
class ChatSnapshotIntegrityTest {

    @Test
    void corruptedOrTruncatedChatSnapshotsAreRejectedWithAReason() {
        try (FalconMamba fm = TestModels.load(TestModels.fixture("tiny-falcon-mamba"))) {
            ChatSession s = fm.newSession();
            s.append("Hello there");
            s.generate(GenerationConfig.builder().maxNewTokens(3).build());
            byte[] snap = s.snapshot();
            assertEquals(s.length(), fm.restoreSession(snap).length());
            SplittableRandom random = new SplittableRandom(3);
            for (int i = 0; i < 3_000; i++) {
                byte[] bad = snap.clone();
                bad[random.nextInt(bad.length)] ^= (byte) (1 + random.nextInt(255));
                String m = assertThrows(IllegalArgumentException.class, () -> fm.restoreSession(bad))
                        .getMessage();
                assertTrue(m.contains("checksum mismatch") || m.contains("magic") || m.contains("version"), m);
            }
            for (int i = 0; i < 1_000; i++) {
                byte[] bad = Arrays.copyOf(snap, random.nextInt(snap.length));
                String m = assertThrows(IllegalArgumentException.class, () -> fm.restoreSession(bad))
                        .getMessage();
                assertTrue(m.contains("truncated") || m.contains("checksum mismatch"), m);
            }
        }
    }
}
