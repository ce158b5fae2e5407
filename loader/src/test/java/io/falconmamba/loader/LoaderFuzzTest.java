package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.falconmamba.core.MambaConfig;
import java.nio.file.Path;

/**
 * Coverage-guided fuzz targets for the two parsers of untrusted files (Jazzer). Every build replays the seed corpus
 * in {@code src/test/resources/.../LoaderFuzzTestInputs/<target>/} and any crash saved there; {@code JAZZER_FUZZ=1}
 * fuzzes one target for its {@code maxDuration} (see {@code tools/FUZZING.md}). The contract: a result that keeps its
 * invariants, or the module's own exception naming the problem; nothing else may escape.
 */
class LoaderFuzzTest {

    private static final Path CONFIG_FILE = Path.of("fuzz", "config.json");

    /** A safetensors header against a data area of fuzzed length. */
    @FuzzTest(maxDuration = "30s")
    void safetensorsHeader(FuzzedDataProvider data) {
        long dataLength = data.consumeLong(0, 1L << 40);
        byte[] header = data.consumeRemainingAsBytes();
        SafetensorsFile.Header h;
        try {
            h = SafetensorsFile.parseHeader("fuzz", header, dataLength);
        } catch (SafetensorsException expected) {
            return;
        }
        long previousEnd = 0;
        for (TensorInfo t : h.tensors().values()) {
            assertTrue(t.begin() >= previousEnd, "tensors overlap: " + t);
            assertTrue(t.end() <= dataLength, "tensor past the data: " + t);
            assertTrue(t.end() - t.begin() == t.byteSize(), "size does not match the shape: " + t);
            previousEnd = t.end();
        }
    }

    /** A config.json: parsed and turned into the engine's config, or a {@link ModelConfigException}. */
    @FuzzTest(maxDuration = "30s")
    void modelConfig(byte[] json) {
        ModelConfig c;
        try {
            c = ModelConfig.parse(CONFIG_FILE, json);
        } catch (ModelConfigException expected) {
            return;
        }
        MambaConfig m;
        try {
            m = c.toMambaConfig();
        } catch (ModelConfigException expected) {
            return;
        }
        assertTrue(m.vocabSize() > 0 && m.numLayers() > 0 && m.hiddenSize() > 0, m.toString());
        assertTrue(m.stateBytesPerSequence() > 0, m.toString());
    }
}
