package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path dir;

    private Path copyOf(String fixture) throws IOException {
        Path src = TestFiles.fixtures().resolve(fixture);
        Path dst = dir.resolve(fixture);
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.toList()) {
                if (p.getFileName().toString().startsWith("model")
                        || p.getFileName().toString().equals("config.json")) {
                    Files.copy(p, dst.resolve(p.getFileName()));
                }
            }
        }
        return dst;
    }

    private static void assertMessage(Throwable e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "lacks '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void missingShard() throws IOException {
        Path m = copyOf("tiny-falcon-mamba-sharded");
        Files.delete(m.resolve("model-00003-of-00004.safetensors"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(m));
        assertMessage(e, Checkpoint.INDEX_FILE, "model-00003-of-00004.safetensors", "missing");
    }

    @Test
    void shardLacksATensorTheIndexPromises() throws IOException {
        Path m = copyOf("tiny-falcon-mamba-sharded");
        Path index = m.resolve(Checkpoint.INDEX_FILE);
        String json = Files.readString(index)
                .replace(
                        "\"lm_head.weight\": \"model-00004-of-00004.safetensors\"",
                        "\"lm_head.weight\": \"model-00001-of-00004.safetensors\"");
        Files.writeString(index, json);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(m));
        assertMessage(e, "'lm_head.weight'", "model-00001-of-00004.safetensors", "has no tensor");
    }

    @Test
    void badIndex() throws IOException {
        Path m = copyOf("tiny-falcon-mamba-sharded");
        Path index = m.resolve(Checkpoint.INDEX_FILE);
        Files.writeString(index, "{\"metadata\":{}}");
        assertMessage(
                assertThrows(SafetensorsException.class, () -> Checkpoint.open(m)), index.toString(), "weight_map");
        Files.writeString(index, "{\"weight_map\":{\"a\":1}}");
        assertMessage(assertThrows(SafetensorsException.class, () -> Checkpoint.open(m)), index.toString(), "'a'");
        Files.writeString(index, "{\"weight_map\":{\"a\":\"../evil.safetensors\"}}");
        assertMessage(
                assertThrows(SafetensorsException.class, () -> Checkpoint.open(m)), "../evil.safetensors", "inside");
        Files.writeString(index, "{\"weight_map\":");
        assertMessage(assertThrows(SafetensorsException.class, () -> Checkpoint.open(m)), index.toString());
    }

    @Test
    void noWeights() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(empty));
        assertMessage(e, empty.toString(), Checkpoint.INDEX_FILE, Checkpoint.SINGLE_FILE, "*.safetensors");
        Path absent = dir.resolve("absent");
        assertMessage(assertThrows(SafetensorsException.class, () -> Checkpoint.open(absent)), absent.toString());
    }

    @Test
    void missingTensorNamesItselfAndHonoursWeightSourceContract() throws IOException {
        try (Checkpoint cp = Checkpoint.open(TestFiles.fixtures().resolve("tiny-mamba"))) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> cp.tensor("lm_head.weight"));
            assertMessage(e, "'lm_head.weight'", "tiny-mamba");
            assertTrue(e instanceof IllegalArgumentException);
            assertFalse(cp.contains("lm_head.weight"));
        }
    }

    @Test
    void unindexedFilesAreOpenedTogetherAndDuplicatesRejected() throws IOException {
        Path m = Files.createDirectories(dir.resolve("multi"));
        new SafetensorsWriter().addF32("a", new long[] {1}, new float[] {1}).write(m.resolve("part-1.safetensors"));
        new SafetensorsWriter().addF32("b", new long[] {1}, new float[] {2}).write(m.resolve("part-2.safetensors"));
        try (Checkpoint cp = Checkpoint.open(m)) {
            assertEquals(List.of("a", "b"), List.copyOf(cp.names()));
            assertEquals(2f, cp.tensor("b").get(0));
            assertEquals(2, cp.files().size());
        }
        new SafetensorsWriter().addF32("a", new long[] {1}, new float[] {3}).write(m.resolve("part-3.safetensors"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(m));
        assertMessage(e, "'a'", "part-1.safetensors", "part-3.safetensors");
    }

    @Test
    void singleFilePathAccepted() {
        Path f = TestFiles.fixtures().resolve("tiny-mamba/model.safetensors");
        try (Checkpoint cp = Checkpoint.open(f)) {
            assertTrue(cp.contains("backbone.norm_f.weight"));
        }
    }

    @Test
    void closeUnmapsEveryShard() {
        Checkpoint cp = Checkpoint.open(TestFiles.fixtures().resolve("tiny-falcon-mamba-sharded"));
        Tensor first = cp.tensor("backbone.embeddings.weight");
        Tensor last = cp.tensor("lm_head.weight");
        first.get(0);
        cp.close();
        cp.close();
        assertThrows(IllegalStateException.class, () -> first.get(0));
        assertThrows(IllegalStateException.class, () -> last.get(0));
        assertThrows(IllegalStateException.class, () -> cp.tensor("lm_head.weight"));
    }

    // ---- validator on crafted checkpoints ----

    private static MambaConfig tinyConfig(boolean tie) {
        ModelConfig c = ModelConfig.fromJson(TestFiles.fixtures().resolve(tie ? "tiny-mamba" : "tiny-falcon-mamba"));
        return c.toMambaConfig();
    }

    /** A copy of tiny-mamba's weights through the writer, with edits. */
    private Path rewritten(
            String name, java.util.function.BiConsumer<SafetensorsWriter, Tensor> perTensor, String skip) {
        Path out = dir.resolve(name).resolve("model.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        try (Checkpoint cp = Checkpoint.open(TestFiles.fixtures().resolve("tiny-mamba"))) {
            for (String n : cp.names()) {
                if (!n.equals(skip)) {
                    perTensor.accept(w, cp.tensor(n));
                }
            }
        }
        w.write(out);
        return out.getParent();
    }

    @Test
    void validatorNamesMissingAndMisshapedTensors() {
        Path m = rewritten(
                "bad",
                (w, t) -> {
                    if (t.name().equals("backbone.layers.1.mixer.x_proj.weight")) {
                        w.addF32(t.name(), new long[] {t.dim(1), t.dim(0)}, t.toFloatArray());
                    } else if (t.name().equals("backbone.layers.0.mixer.D")) {
                        w.addRaw(t.name(), SafetensorsDType.I32, t.shape(), new byte[(int) t.size() * 4]);
                    } else {
                        w.add(t);
                    }
                },
                "backbone.layers.2.mixer.A_log");
        MambaConfig cfg = tinyConfig(true);
        try (Checkpoint cp = Checkpoint.open(m)) {
            List<String> problems = CheckpointValidator.problems(cfg, cp);
            assertEquals(3, problems.size(), problems.toString());
            SafetensorsException e =
                    assertThrows(SafetensorsException.class, () -> CheckpointValidator.validate(cfg, cp));
            assertMessage(
                    e,
                    m.toString(),
                    "3 problem(s)",
                    "'backbone.layers.2.mixer.A_log' is missing (expected shape [128, 16])",
                    "'backbone.layers.1.mixer.x_proj.weight' has shape [128, 40] but the config implies [40, 128]",
                    "'backbone.layers.0.mixer.D'",
                    "I32");
        }
    }

    @Test
    void validatorOnLmHeadAndExtraLayers() {
        // tied config, but the checkpoint ships an lm_head anyway: accepted when its shape is right
        Path withHead = rewritten(
                "head",
                (w, t) -> {
                    w.add(t);
                    if (t.name().equals("backbone.embeddings.weight")) {
                        w.addF32("lm_head.weight", t.shape(), t.toFloatArray());
                    }
                },
                null);
        try (Checkpoint cp = Checkpoint.open(withHead)) {
            CheckpointValidator.validate(tinyConfig(true), cp);
        }
        Path badHead = rewritten(
                "badhead",
                (w, t) -> {
                    w.add(t);
                    if (t.name().equals("backbone.embeddings.weight")) {
                        w.addF32("lm_head.weight", new long[] {64, 512}, t.toFloatArray());
                    }
                },
                null);
        try (Checkpoint cp = Checkpoint.open(badHead)) {
            assertMessage(
                    assertThrows(SafetensorsException.class, () -> CheckpointValidator.validate(tinyConfig(true), cp)),
                    "'lm_head.weight' has shape [64, 512] but the config implies [512, 64]");
        }
        // untied config (falcon sizes are equal) over tiny-mamba's weights: lm_head missing
        try (Checkpoint cp = Checkpoint.open(TestFiles.fixtures().resolve("tiny-mamba"))) {
            assertMessage(
                    assertThrows(SafetensorsException.class, () -> CheckpointValidator.validate(tinyConfig(false), cp)),
                    "'lm_head.weight' is missing (expected shape [512, 64])");
            MambaConfig two = new MambaConfig(
                    io.falconmamba.core.Architecture.MAMBA, 512, 64, 128, 16, 2, 4, 8, 1e-5f, 1e-6f, false, true, true);
            assertMessage(
                    assertThrows(SafetensorsException.class, () -> CheckpointValidator.validate(two, cp)),
                    "layer 2",
                    "num_hidden_layers = 2");
        }
    }

    @Test
    void aLayerCountFarBeyondTheWeightsGivesAShortReport() {
        // tiny-mamba's 3 layers under a config claiming Integer.MAX_VALUE: listing every missing tensor would take
        // billions of lines; the report stops after the first few
        MambaConfig huge = new MambaConfig(
                io.falconmamba.core.Architecture.MAMBA,
                512,
                64,
                128,
                16,
                Integer.MAX_VALUE,
                4,
                8,
                1e-5f,
                1e-6f,
                false,
                true,
                true);
        try (Checkpoint cp = Checkpoint.open(TestFiles.fixtures().resolve("tiny-mamba"))) {
            List<String> problems = CheckpointValidator.problems(huge, cp);
            assertEquals(CheckpointValidator.MAX_TENSOR_PROBLEMS + 1, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains("'backbone.layers.3.norm.weight' is missing"), problems.get(0));
            assertTrue(problems.getLast().contains("implies " + Integer.MAX_VALUE + " layers"), problems.getLast());
        }
    }

    @Test
    void expectedTensorsWithBiases() {
        MambaConfig c = new MambaConfig(
                io.falconmamba.core.Architecture.FALCON_MAMBA, 10, 4, 8, 2, 1, 3, 1, 1e-5f, 1e-6f, true, false, false);
        List<String> names = CheckpointValidator.expectedTensors(c).stream()
                .map(CheckpointValidator.ExpectedTensor::name)
                .toList();
        assertTrue(names.contains("backbone.layers.0.mixer.in_proj.bias"));
        assertTrue(names.contains("backbone.layers.0.mixer.out_proj.bias"));
        assertFalse(names.contains("backbone.layers.0.mixer.conv1d.bias"));
        assertArrayEquals(
                new long[] {16},
                CheckpointValidator.expectedTensors(c).stream()
                        .filter(e -> e.name().endsWith("in_proj.bias"))
                        .findFirst()
                        .orElseThrow()
                        .shape());
    }
}
