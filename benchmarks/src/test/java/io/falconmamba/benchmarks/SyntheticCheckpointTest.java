package io.falconmamba.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void tinyCheckpointLoadsValidatesAndStaysFinite() throws Exception {
        for (String dtype : new String[] {"f32", "f16", "bf16"}) {
            Path d = dir.resolve(dtype);
            SyntheticCheckpoint.write(SyntheticCheckpoint.Shape.of("tiny"), dtype, d, 7, 4L << 30);
            checkRuns(d);
        }
    }

    @Test
    void shardedCheckpointWritesAnIndexAndLoads() throws Exception {
        Path d = dir.resolve("sharded");
        SyntheticCheckpoint.write(SyntheticCheckpoint.Shape.of("tiny"), "bf16", d, 7, 40_000);
        assertTrue(Files.exists(d.resolve("model.safetensors.index.json")));
        assertTrue(Files.exists(d.resolve("model-00001-of-00004.safetensors"))
                || Files.list(d).count() > 3);
        checkRuns(d);
    }

    @Test
    void sameSeedSameBytes() throws Exception {
        SyntheticCheckpoint.write(SyntheticCheckpoint.Shape.of("tiny"), "bf16", dir.resolve("a"), 3, 4L << 30);
        SyntheticCheckpoint.write(SyntheticCheckpoint.Shape.of("tiny"), "bf16", dir.resolve("b"), 3, 4L << 30);
        assertEquals(-1L, Files.mismatch(dir.resolve("a/model.safetensors"), dir.resolve("b/model.safetensors")));
    }

    private static void checkRuns(Path d) {
        ModelConfig mc = ModelConfig.fromJson(d);
        assertEquals(512, mc.vocabSize());
        try (Checkpoint ck = Checkpoint.open(d)) {
            mc.check(ck);
            try (FalconMambaModel m = FalconMambaModel.create(mc.toMambaConfig(), ck, 2)) {
                SequenceState s = m.newState();
                float[] logits = m.prefill(s, new int[] {1, 2, 3, 4, 5, 6, 7, 8}, PrefillMode.parallel());
                for (int t = 0; t < 50; t++) {
                    logits = m.decode(s, LongRun.argmax(logits));
                }
                double sq = 0;
                for (float f : logits) {
                    assertTrue(Float.isFinite(f));
                    sq += f * f;
                }
                assertTrue(sq > 0, "logits are all zero");
            }
        }
    }
}
