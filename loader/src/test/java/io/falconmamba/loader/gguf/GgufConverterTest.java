package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.loader.SafetensorsFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The converter against the files llama.cpp's own tools wrote from the same checkpoint: same metadata keys and
 * values, same tensor order, types and shapes, and the same bytes (every encoder follows ggml's rounding), then
 * the written F16/BF16/F32 file runs to the reference logits.
 */
class GgufConverterTest {

    @TempDir
    Path dir;

    private Path convert(String model, GgmlType type, AtomicLong last) throws IOException {
        Path out = dir.resolve(model + "-" + type + ".gguf");
        GgufConverter.convert(GgufFixtures.dir(model), out, type, 2, (done, total) -> {
            assertTrue(done <= total);
            last.set(done);
        });
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "gguf-falcon-mamba, F32, F32",
        "gguf-falcon-mamba, F16, F16",
        "gguf-falcon-mamba, BF16, BF16",
        "gguf-falcon-mamba, Q8_0, Q8_0",
        "gguf-falcon-mamba, Q4_0, Q4_0",
        "gguf-falcon-mamba, Q6_K, Q6_K",
        "gguf-falcon-mamba, Q4_K, Q4_K_M",
        "gguf-mamba-tied, Q4_K, Q4_K_M",
        "gguf-mamba-tied, F32, F32",
        "gguf-mamba-tied, Q8_0, Q8_0"
    })
    void writesWhatLlamaCppWrites(String model, String typeName, String fixtureType) throws IOException {
        GgmlType type = GgmlType.valueOf(typeName);
        AtomicLong progress = new AtomicLong();
        Path out = convert(model, type, progress);
        try (GgufFile mine = GgufFile.open(out);
                GgufFile theirs = GgufFile.open(GgufFixtures.file(model, fixtureType))) {
            assertEquals(3, mine.version());
            assertEquals(32, mine.alignment());
            List<String> theirKeys = new ArrayList<>(theirs.metadata().keySet());
            List<String> myKeys = new ArrayList<>(mine.metadata().keySet());
            theirKeys.remove("general.quantization_version");
            myKeys.remove("general.quantization_version");
            theirKeys.remove("general.file_type");
            myKeys.remove("general.file_type");
            assertEquals(theirKeys, myKeys, "metadata keys in order");
            for (String k : theirKeys) {
                if (!k.equals("general.name")) {
                    assertEquals(theirs.get(k), mine.get(k), k);
                }
            }
            if (type == GgmlType.F32) {
                // the F32 fixtures come from gguf-py's writer, which the fixture script fed sorted names;
                // the other types from llama-quantize, whose order the converter follows
                assertEquals(
                        new java.util.TreeSet<>(theirs.tensors().keySet()),
                        new java.util.TreeSet<>(mine.tensors().keySet()));
            } else {
                assertEquals(
                        List.copyOf(theirs.tensors().keySet()),
                        List.copyOf(mine.tensors().keySet()),
                        "tensor order");
            }
            long values = 0;
            int comparedOfType = 0;
            for (GgufTensorInfo t : theirs.tensors().values()) {
                GgufTensorInfo m = mine.info(t.name());
                values += m.elements();
                assertEquals(java.util.Arrays.toString(t.shape()), java.util.Arrays.toString(m.shape()), t.name());
                if (t.type() != type && t.type() != GgmlType.F32 && t.type() != m.type()) {
                    continue; // llama-quantize's choice for this tensor (e.g. Q6_K for the output)
                }
                assertEquals(t.type(), m.type(), t.name());
                if (t.type() == type) {
                    comparedOfType++;
                }
                MemorySegment a = theirs.data(t.name());
                MemorySegment b = mine.data(t.name());
                if (t.name().endsWith("ssm_a")) {
                    // -exp(A_log): float32 exp in torch and double exp rounded to float agree within an ulp
                    float[] x = Dequantizer.row(GgmlType.F32, a, 0, (int) t.elements());
                    float[] y = Dequantizer.row(GgmlType.F32, b, 0, (int) t.elements());
                    for (int i = 0; i < x.length; i++) {
                        assertEquals(x[i], y[i], Math.ulp(x[i]), t.name() + "[" + i + "]");
                    }
                } else {
                    assertEquals(-1L, a.mismatch(b), t.name() + ": bytes differ");
                }
            }
            assertEquals(values, progress.get(), "progress reaches the total");
            assertTrue(comparedOfType > 0, "no " + type + " tensor compared");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16"})
    void convertedFileRunsToTheReferenceLogits(String typeName) throws IOException {
        Path out = convert(GgufFixtures.FALCON, GgmlType.valueOf(typeName), new AtomicLong());
        JsonNode ref = GgufFixtures.reference(GgufFixtures.FALCON);
        try (GgufWeights w = new GgufWeights(GgufFile.open(out));
                SafetensorsFile refs = SafetensorsFile.open(
                        GgufFixtures.dir(GgufFixtures.FALCON).resolve("reference.safetensors"))) {
            MambaConfig mc = GgufModelConfig.read(w.file()).toMambaConfig();
            try (FalconMambaModel fm = FalconMambaModel.create(mc, w, 2)) {
                int[] ids = GgufModelTest.ids(ref.get("sequences").get(1));
                float[][] logits = fm.prefillAllLogits(fm.newState(), ids, PrefillMode.PARALLEL);
                float[] expected = refs.tensor(typeName + ".seq1.logits").toFloatArray();
                int v = mc.vocabSize();
                for (int t = 0; t < ids.length; t++) {
                    for (int i = 0; i < v; i++) {
                        assertEquals(expected[t * v + i], logits[t][i], GgufModelTest.SAME_WEIGHTS_TOL, "t " + t);
                    }
                }
            }
        }
    }
}
