package io.falconmamba.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

class GenerationOptionsTest {

    @Test
    void settingsOverrideTheCheckpointDefaultsKeyByKey() {
        GenerationConfig checkpoint = GenerationConfig.builder()
                .doSample(true)
                .temperature(0.8)
                .topK(40)
                .maxNewTokens(64)
                .stopTokenIds(0)
                .build();
        GenerationConfig c = GenerationOptions.builder("m")
                .maxNewTokens(10)
                .temperature(0.5)
                .build()
                .generationConfig(checkpoint);
        assertEquals(10, c.maxNewTokens());
        assertEquals(0.5f, c.temperature());
        assertEquals(40, c.topK(), "unset: the checkpoint's value");
        assertTrue(c.doSample());
        assertEquals(java.util.Set.of(0), c.stopTokenIds());
        GenerationConfig g =
                GenerationOptions.builder("m").greedy().stopTokenIds().build().generationConfig(checkpoint);
        assertEquals(false, g.isSampling());
        assertTrue(g.stopTokenIds().isEmpty());
    }

    @Test
    void badValuesAreRefusedOnTheDriverNamingTheOption() {
        assertEquals(
                "batchSize must be >= 1, got 0",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> GenerationOptions.builder("m")
                                        .batchSize(0)
                                        .build())
                        .getMessage());
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> GenerationOptions.builder("m").temperature(-1).build())
                .getMessage()
                .contains("temperature"));
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationOptions.builder(" ").build());
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationOptions.builder("m").maxPromptTokens(-1).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationOptions.builder("m").threads(-2).build());
    }

    @Test
    void threadsFollowTheTaskCpusUnlessSet() {
        assertEquals(3, GenerationOptions.builder("m").build().modelKey(3).threads());
        assertEquals(
                2, GenerationOptions.builder("m").threads(2).build().modelKey(3).threads());
    }

    @Test
    void rowSeedsDependOnTheJobSeedAndTheRowOnly() {
        assertEquals(RowSeeds.of(7, "In the beginning"), RowSeeds.of(7, "In the beginning"));
        assertTrue(RowSeeds.of(7, "In the beginning") != RowSeeds.of(8, "In the beginning"));
        assertTrue(RowSeeds.of(7, "In the beginning") != RowSeeds.of(7, "In the beginning "));
    }

    @Test
    void optionsSurviveJavaSerialization() throws Exception {
        GenerationOptions o = GenerationOptions.builder("m")
                .stopStrings("\n")
                .seed(5)
                .batchSize(3)
                .build();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        GenerationOptions back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (GenerationOptions) in.readObject();
        }
        assertEquals(o.toString(), back.toString());
        assertEquals(5L, back.seed());
        assertEquals(
                java.util.List.of("\n"),
                back.generationConfig(GenerationConfig.defaults()).stopStrings());
    }
}
