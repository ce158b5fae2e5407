package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Architecture;
import io.falconmamba.core.MambaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {

    @TempDir
    Path dir;

    private ModelConfig config(String json) throws IOException {
        Path p = dir.resolve("config.json");
        Files.writeString(p, json);
        return ModelConfig.fromJson(p);
    }

    private void fails(String json, String... fragments) throws IOException {
        Path p = dir.resolve("config.json");
        Files.writeString(p, json);
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelConfig.fromJson(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "lacks '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void huggingFaceDefaults() throws IOException {
        for (String type : List.of("falcon_mamba", "mamba")) {
            ModelConfig c = config("{\"model_type\":\"" + type + "\"}");
            assertEquals(type.equals("mamba") ? Architecture.MAMBA : Architecture.FALCON_MAMBA, c.architecture());
            assertEquals(50280, c.vocabSize());
            assertEquals(768, c.hiddenSize());
            assertEquals(16, c.stateSize());
            assertEquals(32, c.numLayers());
            assertEquals(1e-5, c.layerNormEpsilon());
            assertEquals(1e-6, c.mixerRmsEps());
            assertEquals(2.0, c.expand());
            assertEquals(1536, c.intermediateSize());
            assertEquals(4, c.convKernel());
            assertFalse(c.useBias());
            assertTrue(c.useConvBias());
            assertEquals(48, c.timeStepRank()); // ceil(768 / 16)
            assertTrue(c.tieWordEmbeddings());
            assertEquals(0, c.bosTokenId().getAsInt());
            assertEquals(0, c.padTokenId().getAsInt());
            assertEquals(List.of(0), c.eosTokenIds());
            MambaConfig m = c.toMambaConfig();
            assertEquals(1536, m.intermediateSize());
            assertEquals(1e-5f, m.layerNormEpsilon());
        }
    }

    @Test
    void derivedFields() throws IOException {
        ModelConfig c =
                config("{\"model_type\":\"mamba\",\"hidden_size\":100,\"expand\":3,\"time_step_rank\":\"auto\"}");
        assertEquals(300, c.intermediateSize());
        assertEquals(7, c.timeStepRank()); // ceil(100 / 16)
        // falcon-mamba-7b: expand 16 but intermediate_size 8192 — the explicit size wins
        ModelConfig f =
                config("{\"model_type\":\"falcon_mamba\",\"hidden_size\":4096,\"expand\":16,\"intermediate_size\":8192,"
                        + "\"time_step_rank\":256,\"eos_token_id\":11,\"pad_token_id\":11,\"vocab_size\":65024,\"num_hidden_layers\":64,"
                        + "\"tie_word_embeddings\":false}");
        assertEquals(8192, f.intermediateSize());
        assertEquals(256, f.timeStepRank());
        assertEquals(List.of(11), f.eosTokenIds());
        assertEquals(11, f.padTokenId().getAsInt());
        assertFalse(f.tieWordEmbeddings());
    }

    @Test
    void eosAsListOrNull() throws IOException {
        assertEquals(
                List.of(0, 11),
                config("{\"model_type\":\"mamba\",\"eos_token_id\":[0,11]}").eosTokenIds());
        ModelConfig c =
                config("{\"model_type\":\"mamba\",\"eos_token_id\":null,\"bos_token_id\":null,\"pad_token_id\":null}");
        assertEquals(List.of(), c.eosTokenIds());
        assertTrue(c.bosTokenId().isEmpty());
        assertTrue(c.padTokenId().isEmpty());
    }

    @Test
    void directoryIsResolvedToItsConfigJson() throws IOException {
        config("{\"model_type\":\"mamba\",\"num_hidden_layers\":2}");
        assertEquals(2, ModelConfig.fromJson(dir).numLayers());
    }

    @Test
    void errors() throws IOException {
        fails("{\"model_type\":\"llama\"}", "model_type", "llama", "falcon_mamba");
        fails("{\"hidden_size\":4}", "model_type", "missing");
        fails("{\"model_type\":3}", "model_type", "must be a string");
        fails("[]", "must be a JSON object");
        fails("{\"model_type\":", "not valid JSON");
        fails("{\"model_type\":\"mamba\",\"num_hidden_layers\":0}", "num_hidden_layers", "positive", "0");
        fails("{\"model_type\":\"mamba\",\"hidden_size\":-8}", "hidden_size", "positive", "-8");
        fails("{\"model_type\":\"mamba\",\"vocab_size\":\"512\"}", "vocab_size", "integer", "a string");
        fails("{\"model_type\":\"mamba\",\"state_size\":16.5}", "state_size", "integer");
        fails("{\"model_type\":\"mamba\",\"intermediate_size\":99999999999}", "intermediate_size", "out of range");
        fails("{\"model_type\":\"mamba\",\"use_bias\":\"no\"}", "use_bias", "true or false");
        fails("{\"model_type\":\"mamba\",\"layer_norm_epsilon\":0}", "layer_norm_epsilon", "positive");
        fails("{\"model_type\":\"mamba\",\"layer_norm_epsilon\":1e-60}", "layer_norm_epsilon", "float32");
        fails("{\"model_type\":\"mamba\",\"time_step_rank\":\"big\"}", "time_step_rank", "auto");
        fails("{\"model_type\":\"mamba\",\"eos_token_id\":[0,\"x\"]}", "eos_token_id");
        fails("{\"model_type\":\"mamba\",\"bos_token_id\":-1}", "bos_token_id", "non-negative");
        fails("{\"model_type\":\"mamba\",\"expand\":0}", "expand", "positive");
        Path missing = dir.resolve("nope.json");
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelConfig.fromJson(missing));
        assertTrue(
                e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such file"), e.getMessage());
    }
}
