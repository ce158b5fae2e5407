package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.falconmamba.core.Architecture;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Loads every fixture model, checks the variants agree with one another and with their config. */
class FixtureModelsTest {

    private static Path model(String name) {
        return TestFiles.fixtures().resolve(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-falcon-mamba", "tiny-falcon-mamba-bf16", "tiny-falcon-mamba-sharded", "tiny-mamba"})
    void configAndWeightsAgree(String name) {
        ModelConfig cfg = ModelConfig.fromJson(model(name));
        assertEquals(name.equals("tiny-mamba") ? Architecture.MAMBA : Architecture.FALCON_MAMBA, cfg.architecture());
        assertEquals(512, cfg.vocabSize());
        assertEquals(64, cfg.hiddenSize());
        assertEquals(128, cfg.intermediateSize());
        assertEquals(16, cfg.stateSize());
        assertEquals(3, cfg.numLayers());
        assertEquals(4, cfg.convKernel());
        assertEquals(8, cfg.timeStepRank());
        assertEquals(1e-5, cfg.layerNormEpsilon());
        assertEquals(1e-6, cfg.mixerRmsEps());
        assertFalse(cfg.useBias());
        assertTrue(cfg.useConvBias());
        assertEquals(name.equals("tiny-mamba"), cfg.tieWordEmbeddings());
        assertEquals(List.of(0), cfg.eosTokenIds());
        assertEquals(0, cfg.bosTokenId().orElseThrow());
        assertEquals(0, cfg.padTokenId().orElseThrow());
        MambaConfig mc = cfg.toMambaConfig();
        try (Checkpoint cp = Checkpoint.open(model(name))) {
            CheckpointValidator.validate(mc, cp);
            cfg.check(cp);
            assertTrue(CheckpointValidator.problems(mc, cp).isEmpty());
            Set<String> expected = new TreeSet<>();
            for (CheckpointValidator.ExpectedTensor e : CheckpointValidator.expectedTensors(mc)) {
                if (e.required()) {
                    expected.add(e.name());
                }
            }
            assertEquals(expected, cp.names(), "exactly the tensors the architecture needs");
            WeightType type = name.endsWith("bf16") ? WeightType.BF16 : WeightType.F32;
            for (String n : cp.names()) {
                assertEquals(type, cp.tensor(n).type(), n);
            }
            assertEquals(name.endsWith("sharded") ? 4 : 1, cp.files().size());
        }
    }

    @Test
    void shardedAndSingleFileHoldIdenticalValues() {
        try (Checkpoint single = Checkpoint.open(model("tiny-falcon-mamba"));
                Checkpoint sharded = Checkpoint.open(model("tiny-falcon-mamba-sharded"))) {
            assertEquals(single.names(), sharded.names());
            for (String n : single.names()) {
                Tensor a = single.tensor(n);
                Tensor b = sharded.tensor(n);
                assertArrayEquals(a.shape(), b.shape(), n);
                // bit-identical bytes, hence identical floats (NaN-safe)
                assertEquals(-1L, a.data().mismatch(b.data()), n);
                assertArrayEquals(a.toFloatArray(), b.toFloatArray(), n);
            }
        }
    }

    /**
     * The bf16 file is the f32 weights rounded to bfloat16. torch rounds to nearest, ties to even, so each bf16
     * value must equal our RNE rounding of the f32 value exactly. Independently of how the rounding was done,
     * any correct rounding to bf16 (8 significant bits) is within half a unit in the last place:
     * |a - b| <= 2^-8 * |a| for normal a (half an ulp is 2^(e-8) for a in [2^e, 2^(e+1))).
     */
    @Test
    void bf16IsTheF32WeightsRounded() {
        try (Checkpoint f32 = Checkpoint.open(model("tiny-falcon-mamba"));
                Checkpoint bf16 = Checkpoint.open(model("tiny-falcon-mamba-bf16"))) {
            assertEquals(f32.names(), bf16.names());
            long compared = 0;
            for (String n : f32.names()) {
                float[] a = f32.tensor(n).toFloatArray();
                float[] b = bf16.tensor(n).toFloatArray();
                assertArrayEquals(f32.tensor(n).shape(), bf16.tensor(n).shape(), n);
                for (int i = 0; i < a.length; i++) {
                    float rne = SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(a[i]));
                    if (Float.compare(rne, b[i]) != 0) {
                        fail(n + "[" + i + "]: f32 " + a[i] + " rounds to bf16 " + rne + " but the file has " + b[i]);
                    }
                    if (Math.abs(a[i]) >= Float.MIN_NORMAL
                            && !(Math.abs(a[i] - b[i]) <= Math.scalb(Math.abs(a[i]), -8))) {
                        fail(n + "[" + i + "]: |" + a[i] + " - " + b[i] + "| exceeds 2^-8 relative");
                    }
                    compared++;
                }
            }
            assertEquals(166784, compared, "total_parameters of the index");
        }
    }

    @Test
    void tiedModelHasNoLmHeadAndUntiedDoes() {
        try (Checkpoint tied = Checkpoint.open(model("tiny-mamba"));
                Checkpoint untied = Checkpoint.open(model("tiny-falcon-mamba"))) {
            assertFalse(tied.contains("lm_head.weight"));
            assertArrayEquals(
                    new long[] {512, 64}, untied.tensor("lm_head.weight").shape());
        }
    }

    @Test
    void shapesMatchTheDesign() {
        try (Checkpoint cp = Checkpoint.open(model("tiny-falcon-mamba"))) {
            assertEquals(
                    "[256, 64]",
                    Arrays.toString(
                            cp.tensor("backbone.layers.0.mixer.in_proj.weight").shape()));
            assertEquals(
                    "[128, 1, 4]",
                    Arrays.toString(
                            cp.tensor("backbone.layers.0.mixer.conv1d.weight").shape()));
            assertEquals(
                    "[40, 128]",
                    Arrays.toString(
                            cp.tensor("backbone.layers.2.mixer.x_proj.weight").shape()));
            assertEquals(
                    "[128, 8]",
                    Arrays.toString(
                            cp.tensor("backbone.layers.1.mixer.dt_proj.weight").shape()));
            assertEquals(
                    "[128, 16]",
                    Arrays.toString(cp.tensor("backbone.layers.1.mixer.A_log").shape()));
            assertEquals(
                    "[64, 128]",
                    Arrays.toString(
                            cp.tensor("backbone.layers.1.mixer.out_proj.weight").shape()));
        }
    }
}
