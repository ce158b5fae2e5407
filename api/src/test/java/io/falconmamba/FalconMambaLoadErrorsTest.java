package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.hub.HubException;
import io.falconmamba.loader.SafetensorsFile;
import io.falconmamba.loader.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading bad model directories fails with an exception that names the path, file or tensor at fault. */
class FalconMambaLoadErrorsTest {

    @TempDir
    Path tmp;

    private Path copyOf(String fixture) throws IOException {
        Path dir = tmp.resolve(fixture);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(TestModels.fixture(fixture))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dir;
    }

    @Test
    void missingDirectory() {
        Path missing = tmp.resolve("no-such-model");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> FalconMamba.load(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());

        RuntimeException viaString = assertThrows(RuntimeException.class, () -> FalconMamba.load(missing.toString()));
        assertTrue(viaString instanceof HubException || viaString instanceof ModelLoadException, viaString.toString());
        assertTrue(viaString.getMessage().contains(missing.toString()), viaString.getMessage());
    }

    @Test
    void fileInsteadOfDirectory() throws IOException {
        Path file = Files.writeString(tmp.resolve("config.json"), "{}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> FalconMamba.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void brokenConfigJson() throws IOException {
        Path dir = copyOf("tiny-falcon-mamba");
        Files.writeString(dir.resolve("config.json"), "{ \"model_type\": \"falcon_mamba\", ");
        RuntimeException e = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("json"), e.getMessage());
    }

    @Test
    void missingConfigJson() throws IOException {
        Path dir = copyOf("tiny-falcon-mamba");
        Files.delete(dir.resolve("config.json"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void brokenGenerationConfigJson() throws IOException {
        Path dir = copyOf("tiny-falcon-mamba");
        Files.writeString(dir.resolve("generation_config.json"), "{\"temperature\": \"hot\"}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains("generation_config.json"), e.getMessage());
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());

        Files.writeString(dir.resolve("generation_config.json"), "[1, 2");
        e = assertThrows(ModelLoadException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains("generation_config.json"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path dir = copyOf("tiny-falcon-mamba");
        Path weights = dir.resolve("model.safetensors");
        String dropped = "backbone.layers.1.mixer.x_proj.weight";
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile f =
                SafetensorsFile.open(TestModels.fixture("tiny-falcon-mamba").resolve("model.safetensors"))) {
            assertTrue(f.contains(dropped), f.names().toString());
            for (String name : f.names()) {
                if (!name.equals(dropped)) {
                    w.add(f.tensor(name));
                }
            }
            w.write(weights);
        }
        RuntimeException e = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains(dropped), e.getMessage());

        // The directory is still usable once the tensor is back: nothing was left half-loaded or locked.
        Files.copy(
                TestModels.fixture("tiny-falcon-mamba").resolve("model.safetensors"),
                weights,
                StandardCopyOption.REPLACE_EXISTING);
        try (FalconMamba fm = TestModels.load(dir)) {
            assertEquals(dir, fm.directory());
        }
    }

    @Test
    void missingTokenizerIsNamed() throws IOException {
        Path dir = copyOf("tiny-mamba");
        Files.delete(dir.resolve("tokenizer.json"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }

    /** The tokenizer loads while the engine does; the engine's error comes first, as if they ran in turn. */
    @Test
    void aBrokenEngineIsReportedBeforeABrokenTokenizer() throws IOException {
        Path dir = copyOf("tiny-mamba");
        Files.writeString(dir.resolve("tokenizer.json"), "{ not json");
        Files.delete(dir.resolve("config.json"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());

        Files.copy(TestModels.fixture("tiny-mamba").resolve("config.json"), dir.resolve("config.json"));
        RuntimeException t = assertThrows(RuntimeException.class, () -> TestModels.load(dir));
        assertTrue(t instanceof io.falconmamba.tokenizer.TokenizerException, t.toString());
        assertTrue(t.getMessage().contains("tokenizer.json"), t.getMessage());
    }
}
