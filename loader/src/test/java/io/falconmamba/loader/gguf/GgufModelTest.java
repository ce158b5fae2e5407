package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.SequenceState;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.core.WeightType;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.CheckpointValidator;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.loader.SafetensorsFile;
import io.falconmamba.loader.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every GGUF fixture (float and block-quantized) runs from the {@code .gguf} file alone, against the float64
 * references computed on each file's dequantized weights.
 *
 * <p>Tolerances: logits within 2e-3 of the reference, the bound for every type; every file meets it by
 * far, since the engine multiplies by exactly the dequantized weights with float32 activations, and a float32
 * forward pass over given weights stays within ~1e-5 of float64 (see ModelReferenceTest).
 * Against the safetensors path on the same weights (a safetensors file written with the GGUF's own values and
 * types), 1e-4, the bound the engine meets against transformers: the two runs differ only in A_log, which the GGUF
 * path recovers as log(−A) within a float rounding.
 */
class GgufModelTest {

    static final double REF_TOL = 2e-3;
    static final double SAME_WEIGHTS_TOL = 1e-4;
    static final double PREFILL_MODES_TOL = 1e-4;

    @TempDir
    Path dir;

    static Stream<Arguments> floatFiles() {
        return Stream.of(
                Arguments.of(GgufFixtures.FALCON, "F32"),
                Arguments.of(GgufFixtures.FALCON, "F16"),
                Arguments.of(GgufFixtures.FALCON, "BF16"),
                Arguments.of(GgufFixtures.TIED, "F32"));
    }

    /** The fixture file copied alone into an empty folder: no config.json or tokenizer.json beside it. */
    private Path alone(String model, String type) throws IOException {
        Path p = dir.resolve("alone-" + type + ".gguf");
        Files.copy(GgufFixtures.file(model, type), p);
        return p;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("floatFiles")
    void configMatchesConfigJson(String model, String type) throws IOException {
        ModelConfig json = ModelConfig.fromJson(GgufFixtures.dir(model).resolve("config.json"));
        try (GgufFile f = GgufFile.open(alone(model, type))) {
            ModelConfig g = GgufModelConfig.read(f);
            assertEquals(json.architecture(), g.architecture());
            assertEquals(json.vocabSize(), g.vocabSize());
            assertEquals(json.hiddenSize(), g.hiddenSize());
            assertEquals(json.intermediateSize(), g.intermediateSize());
            assertEquals(json.stateSize(), g.stateSize());
            assertEquals(json.numLayers(), g.numLayers());
            assertEquals(json.convKernel(), g.convKernel());
            assertEquals(json.timeStepRank(), g.timeStepRank());
            assertEquals(json.layerNormEpsilon(), g.layerNormEpsilon(), 1e-12);
            assertEquals(json.useBias(), g.useBias());
            assertEquals(json.useConvBias(), g.useConvBias());
            assertEquals(json.tieWordEmbeddings(), g.tieWordEmbeddings());
            assertEquals(json.bosTokenId(), g.bosTokenId());
            assertEquals(json.eosTokenIds(), g.eosTokenIds());
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("io.falconmamba.loader.gguf.GgufFixtures#all")
    void logitsGreedyIdsAndPrefillModes(String model, String type) throws IOException {
        JsonNode ref = GgufFixtures.reference(model);
        JsonNode typeRef = ref.get("types").get(type);
        try (GgufWeights w = new GgufWeights(GgufFile.open(alone(model, type)));
                SafetensorsFile refs =
                        SafetensorsFile.open(GgufFixtures.dir(model).resolve("reference.safetensors"))) {
            MambaConfig mc = GgufModelConfig.read(w.file()).toMambaConfig();
            CheckpointValidator.validate(mc, w);
            // Mapped, and in memory (Q8_0 and Q4_0 rearranged into tiles, the other block formats copied as stored).
            for (WeightStorage storage : WeightStorage.values()) {
                try (FalconMambaModel fm = FalconMambaModel.create(mc, w, 2, Quantization.NONE, storage)) {
                    for (int s = 0; s < 2; s++) {
                        int[] ids = ids(ref.get("sequences").get(s));
                        float[][] logits = fm.prefillAllLogits(fm.newState(), ids, PrefillMode.PARALLEL);
                        float[] expected =
                                refs.tensor(type + ".seq" + s + ".logits").toFloatArray();
                        int v = mc.vocabSize();
                        for (int t = 0; t < ids.length; t++) {
                            double d = 0;
                            for (int i = 0; i < v; i++) {
                                d = Math.max(d, Math.abs(logits[t][i] - expected[t * v + i]));
                            }
                            assertTrue(
                                    d <= REF_TOL,
                                    storage + " " + type + " seq" + s + " position " + t + ": differs by " + d);
                        }
                        float[][] chunked = fm.prefillAllLogits(fm.newState(), ids, PrefillMode.chunked(5));
                        for (int t = 0; t < ids.length; t++) {
                            double d = maxAbsDiff(logits[t], chunked[t]);
                            assertTrue(
                                    d <= PREFILL_MODES_TOL, storage + ": chunked prefill differs at " + t + " by " + d);
                        }
                    }
                    assertGreedy(fm, ids(ref.get("sequences").get(0)), typeRef);
                }
            }
        }
    }

    /** Greedy ids equal the reference's up to the first step whose reference top-2 margin is below 0.01. */
    static void assertGreedy(FalconMambaModel fm, int[] prompt, JsonNode typeRef) {
        SequenceState st = fm.newState();
        float[] logits = fm.prefill(st, prompt, PrefillMode.PARALLEL);
        JsonNode ids = typeRef.get("greedy_ids");
        JsonNode margins = typeRef.get("greedy_top2_margins");
        for (int i = 0; i < ids.size(); i++) {
            if (margins.get(i).asDouble() < 0.01) {
                break;
            }
            int best = argmax(logits);
            assertEquals(ids.get(i).asInt(), best, "greedy step " + i);
            logits = fm.decode(st, best);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("floatFiles")
    void sameLogitsAsTheSafetensorsPathOnTheSameWeights(String model, String type) throws IOException {
        Path st = dir.resolve("same-" + type);
        Files.createDirectories(st);
        Files.copy(GgufFixtures.dir(model).resolve("config.json"), st.resolve("config.json"));
        JsonNode ref = GgufFixtures.reference(model);
        try (GgufWeights w = new GgufWeights(GgufFile.open(alone(model, type)));
                Checkpoint original = Checkpoint.open(GgufFixtures.dir(model))) {
            // the GGUF's values in Hugging Face layout, each tensor in its GGUF type; A_log as Hugging Face has it
            SafetensorsWriter out = new SafetensorsWriter();
            for (String hf : original.names()) {
                if (hf.endsWith(".A_log")) {
                    out.add(original.tensor(hf));
                    continue;
                }
                var t = w.tensor(hf);
                out.add(hf, t.type(), original.tensor(hf).shape(), t.toFloatArray());
            }
            out.write(st.resolve("model.safetensors"));
            ModelConfig cfg = ModelConfig.fromJson(st);
            MambaConfig gguf = GgufModelConfig.read(w.file()).toMambaConfig();
            try (Checkpoint same = Checkpoint.open(st);
                    FalconMambaModel a = FalconMambaModel.create(gguf, w, 2);
                    FalconMambaModel b = FalconMambaModel.create(cfg.toMambaConfig(), same, 2)) {
                assertEquals(
                        type.equals("F32") ? WeightType.F32 : WeightType.valueOf(type),
                        same.tensor("backbone.layers.0.mixer.in_proj.weight").type());
                for (int s = 0; s < 2; s++) {
                    int[] ids = ids(ref.get("sequences").get(s));
                    float[][] la = a.prefillAllLogits(a.newState(), ids, PrefillMode.PARALLEL);
                    float[][] lb = b.prefillAllLogits(b.newState(), ids, PrefillMode.PARALLEL);
                    for (int t = 0; t < ids.length; t++) {
                        double d = maxAbsDiff(la[t], lb[t]);
                        assertTrue(d <= SAME_WEIGHTS_TOL, "seq" + s + " position " + t + " differs by " + d);
                    }
                }
            }
        }
    }

    @Test
    void typesWithoutKernelsAreRefusedByNameAndType() throws IOException {
        Path p = dir.resolve("q8_1.gguf");
        new GgufWriter()
                .putString("general.architecture", "mamba")
                .addTensor(
                        "blk.0.ssm_in.weight",
                        GgmlType.Q8_1,
                        new long[] {2, 32},
                        MemorySegment.ofArray(new byte[2 * GgmlType.Q8_1.blockBytes()]))
                .write(p);
        try (GgufWeights w = new GgufWeights(GgufFile.open(p))) {
            GgufException e =
                    assertThrows(GgufException.class, () -> w.tensor("backbone.layers.0.mixer.in_proj.weight"));
            assertTrue(e.getMessage().contains("'blk.0.ssm_in.weight' has type Q8_1"), e.getMessage());
            assertTrue(e.getMessage().contains("cannot run"), e.getMessage());
        }
    }

    /** The hyper-parameters of a one-layer model, all valid: each test below spoils one. */
    private static GgufWriter hyperParameters() {
        return new GgufWriter()
                .putString("general.architecture", "mamba")
                .putUint32("mamba.embedding_length", 8)
                .putUint32("mamba.block_count", 1)
                .putUint32("mamba.ssm.conv_kernel", 4)
                .putUint32("mamba.ssm.inner_size", 16)
                .putUint32("mamba.ssm.state_size", 2)
                .putUint32("mamba.ssm.time_step_rank", 1)
                .putFloat32("mamba.attention.layer_norm_rms_epsilon", 1e-5f);
    }

    private String configError(GgufWriter w) throws IOException {
        Path p = dir.resolve("spoiled.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            GgufException e = assertThrows(GgufException.class, () -> GgufModelConfig.read(f));
            assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
            return e.getMessage();
        }
    }

    @Test
    void anEpsilonThatIsNoFloat32IsRefusedByKey() throws IOException {
        for (double eps : new double[] {1e-50, 1e300}) {
            GgufWriter w = hyperParameters()
                    .put("mamba.attention.layer_norm_rms_epsilon", new GgufValue(GgufValueType.FLOAT64, null, eps))
                    .putUint32("mamba.vocab_size", 4);
            String m = configError(w);
            assertTrue(m.contains("layer_norm_rms_epsilon") && m.contains("not a positive float32"), m);
        }
    }

    @Test
    void anEmptyEmbeddingGivesNoVocabulary() throws IOException {
        GgufWriter w = hyperParameters()
                .addTensor("token_embd.weight", GgmlType.F32, new long[] {0, 8}, MemorySegment.ofArray(new byte[0]));
        String m = configError(w);
        assertTrue(m.contains("'token_embd.weight' has shape [0, 8]"), m);
    }

    @Test
    void aLogIsRecoveredFromA() {
        try (GgufWeights w = new GgufWeights(GgufFile.open(GgufFixtures.file(GgufFixtures.FALCON, "F32")));
                Checkpoint original = Checkpoint.open(GgufFixtures.dir(GgufFixtures.FALCON))) {
            float[] got = w.tensor("backbone.layers.1.mixer.A_log").toFloatArray();
            float[] want = original.tensor("backbone.layers.1.mixer.A_log").toFloatArray();
            assertEquals(want.length, got.length);
            for (int i = 0; i < got.length; i++) {
                // A = -exp(A_log) rounded to float, then log: a few float roundings of A_log ~ O(1)
                assertEquals(want[i], got[i], 4 * Math.ulp(Math.max(1f, Math.abs(want[i]))), "A_log[" + i + "]");
            }
        }
    }

    static int[] ids(JsonNode a) {
        List<Integer> l = new ArrayList<>();
        a.forEach(n -> l.add(n.asInt()));
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    static int argmax(float[] x) {
        int b = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[b]) {
                b = i;
            }
        }
        return b;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
