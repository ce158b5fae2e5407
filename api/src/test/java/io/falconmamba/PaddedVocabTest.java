package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.loader.SafetensorsFile;
import io.falconmamba.loader.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint whose vocabulary has more rows than its tokenizer has ids (as the Mamba {@code *-hf} checkpoints:
 * 50280 rows, 50277 tokens): the extra ids decode to nothing, and by default they are never sampled.
 */
class PaddedVocabTest {

    static final int EXTRA = 16;

    /**
     * A copy of {@code fixture} with {@code extra} more vocabulary rows. Each extra row repeats a real token's
     * embedding and output row, so unmasked the padded ids are about as likely as real ones.
     */
    static Path paddedCopy(String fixture, Path dir, int extra) throws IOException {
        Path src = TestModels.fixture(fixture);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(src.resolve("config.json").toFile());
        int vocab = config.get("vocab_size").asInt();
        config.put("vocab_size", vocab + extra);
        json.writeValue(dir.resolve("config.json").toFile(), config);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        try (SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            for (String name : f.names()) {
                Tensor t = f.tensor(name);
                float[] v = t.toFloatArray();
                long[] shape = t.shape();
                if (shape.length == 2 && shape[0] == vocab) {
                    int cols = (int) shape[1];
                    float[] padded = Arrays.copyOf(v, (vocab + extra) * cols);
                    for (int r = 0; r < extra; r++) {
                        int from = (r * 37 + 11) % vocab;
                        System.arraycopy(v, from * cols, padded, (vocab + r) * cols, cols);
                    }
                    w.addF32(name, new long[] {vocab + extra, cols}, padded);
                } else {
                    w.addF32(name, shape, v);
                }
            }
        }
        w.write(dir.resolve("model.safetensors"));
        return dir;
    }

    @Test
    void tenThousandSampledTokensAtTemperatureOnePointFiveNeverFail(@TempDir Path tmp) throws IOException {
        Path dir = paddedCopy("tiny-falcon-mamba", tmp.resolve("padded"), EXTRA);
        try (FalconMamba fm = TestModels.load(dir)) {
            assertEquals(512 + EXTRA, fm.config().vocabSize());
            GenerationConfig config = GenerationConfig.builder()
                    .doSample(true)
                    .temperature(1.5)
                    .seed(7)
                    .maxNewTokens(10_000)
                    .build();
            StringBuilder streamed = new StringBuilder();
            Completion c = fm.generate("Hello", config, streamed::append);
            assertEquals(10_000, c.ids().length);
            assertEquals(streamed.toString(), c.text());
            assertTrue(Arrays.stream(c.ids()).allMatch(id -> id < 512), "a padded id was sampled");
        }
    }

    @Test
    void keepingThePaddedRowsSamplesThemAndTheyDecodeToNothing(@TempDir Path tmp) throws IOException {
        Path dir = paddedCopy("tiny-falcon-mamba", tmp.resolve("padded"), EXTRA);
        try (FalconMamba fm = TestModels.load(dir)) {
            GenerationConfig config = GenerationConfig.builder()
                    .doSample(true)
                    .temperature(1.5)
                    .seed(11)
                    .maxNewTokens(2_000)
                    .vocabLimit(fm.config().vocabSize())
                    .build();
            StringBuilder streamed = new StringBuilder();
            Completion c = fm.generate("Hello", config, streamed::append);
            assertEquals(2_000, c.ids().length);
            assertTrue(Arrays.stream(c.ids()).anyMatch(id -> id >= 512), "no padded id was sampled");
            int[] real = Arrays.stream(c.ids()).filter(id -> id < 512).toArray();
            assertEquals(fm.tokenizer().decode(real, true), c.text());
            assertEquals(c.text(), streamed.toString());

            // A chat session and a batch go through the same decoding.
            ChatSession s = fm.newSession();
            s.append("Hello");
            assertEquals(
                    500,
                    s.generate(config.toBuilder().maxNewTokens(500).build()).ids().length);
            List<Completion> batch = fm.generateBatch(
                    List.of("a", "b"), config.toBuilder().maxNewTokens(300).build());
            assertEquals(300, batch.get(1).ids().length);
        }
    }
}
