package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.StopReason;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The demo model through the facade must reproduce transformers' greedy continuations exactly, ids and text. */
class FalconMambaDemoTest {

    private static FalconMamba model;
    private static JsonNode references;

    @BeforeAll
    static void load() {
        model = TestModels.load(TestModels.demo());
        references = TestModels.json(TestModels.demo().resolve("demo-reference.json"))
                .get("references");
        assertEquals(2, references.size());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** The reference setting: greedy, 48 new tokens, eos disabled. */
    private static GenerationConfig greedy48() {
        return model.defaults().toBuilder()
                .doSample(false)
                .temperature(0)
                .maxNewTokens(48)
                .stopTokenIds()
                .build();
    }

    @Test
    void defaultsComeFromGenerationConfigJson() {
        GenerationConfig d = model.defaults();
        assertTrue(d.doSample());
        assertEquals(0.8f, d.temperature());
        assertEquals(40, d.topK());
        assertEquals(64, d.maxNewTokens());
        assertEquals(java.util.Set.of(0), d.stopTokenIds());
        assertTrue(greedy48().stopTokenIds().isEmpty());
        assertFalse(greedy48().isSampling());
    }

    @Test
    void greedyContinuationsMatchTheReferenceWithStreaming() {
        for (JsonNode ref : references) {
            String prompt = ref.get("prompt").asText();
            List<String> pieces = new ArrayList<>();
            Completion c = model.generate(prompt, greedy48(), pieces::add);
            assertArrayEquals(TestModels.ints(ref.get("prompt_ids")), c.promptIds(), "prompt ids of " + prompt);
            assertArrayEquals(TestModels.ints(ref.get("generated_ids")), c.ids(), "generated ids of " + prompt);
            assertEquals(ref.get("text").asText(), c.text(), "text of " + prompt);
            assertEquals(StopReason.LENGTH, c.stopReason());
            assertEquals(48, c.stats().tokenCount());
            assertEquals(c.text(), String.join("", pieces), "streamed pieces concatenate to the text");
            assertTrue(pieces.size() > 10, "text arrives in many pieces, got " + pieces.size());
        }
    }

    /** LoadOptions.withStorage(IN_MEMORY): the copied weights give the reference continuations too. */
    @Test
    void inMemoryWeightsGiveTheReferenceContinuations() {
        LoadOptions opts =
                LoadOptions.defaults().withThreads(2).withStorage(io.falconmamba.core.WeightStorage.IN_MEMORY);
        try (FalconMamba copied = FalconMamba.load(TestModels.demo(), opts)) {
            assertEquals(
                    io.falconmamba.core.WeightStorage.IN_MEMORY, copied.model().weightStorage());
            for (JsonNode ref : references) {
                Completion c = copied.generate(ref.get("prompt").asText(), greedy48());
                assertArrayEquals(
                        TestModels.ints(ref.get("generated_ids")), c.ids(), "generated ids of " + ref.get("prompt"));
            }
        }
    }

    /**
     * The default storage maps a checkpoint this small (it lives in the CPU caches); a copy takes the projection
     * matrices' pages out of the file mapping: without that the process would hold them twice (Rss of the mapping
     * plus the copy).
     */
    @Test
    void copiedWeightsLeaveTheMappingAndSmallCheckpointsStayMappedByDefault() {
        try (Engine mapped =
                Engine.open(TestModels.demo(), LoadOptions.defaults().withThreads(1))) {
            assertEquals(
                    io.falconmamba.core.WeightStorage.MAPPED, mapped.model().weightStorage());
        }
        LoadOptions copy =
                LoadOptions.defaults().withThreads(2).withStorage(io.falconmamba.core.WeightStorage.IN_MEMORY);
        try (Engine engine = Engine.open(TestModels.demo(), copy)) {
            assertEquals(
                    io.falconmamba.core.WeightStorage.IN_MEMORY, engine.model().weightStorage());
            long projections = 0;
            for (String n : engine.weights().names()) {
                if (n.startsWith("lm_head.") || n.matches(".*\\.(in|x|dt|out)_proj\\.weight")) {
                    projections += engine.weights().tensor(n).data().byteSize();
                }
            }
            long file = engine.weights().byteSize();
            assertTrue(projections > file / 2, "the demo checkpoint is mostly projections: " + projections);
            long resident = engine.weights().pageBacking().orElseThrow().residentBytes();
            // Slack: the pages that share a boundary with a kept tensor, and fault-around of the reads since.
            assertTrue(
                    resident <= file - projections + (1 << 20),
                    "mapping still holds " + resident + " of " + file + " bytes; projections: " + projections);
        }
    }

    @Test
    void parallelAndChunkedPrefillGiveTheSameIds() {
        for (JsonNode ref : references) {
            String prompt = ref.get("prompt").asText();
            int[] expected = TestModels.ints(ref.get("generated_ids"));
            for (PrefillMode mode : List.of(
                    PrefillMode.PARALLEL,
                    PrefillMode.chunked(1),
                    PrefillMode.chunked(2),
                    PrefillMode.chunked(PrefillMode.DEFAULT_CHUNK))) {
                Completion c = model.generate(
                        prompt, greedy48().toBuilder().prefillMode(mode).build());
                assertArrayEquals(expected, c.ids(), prompt + " with " + mode);
            }
        }
    }

    @Test
    void plainSessionContinuesLikeOneGeneration() {
        JsonNode ref = references.get(1);
        int[] expected = TestModels.ints(ref.get("generated_ids"));
        ChatSession s = model.newSession();
        s.append(ref.get("prompt").asText());
        Completion first = s.generate(greedy48().toBuilder().maxNewTokens(20).build());
        Completion rest = s.generate(greedy48().toBuilder().maxNewTokens(28).build());
        assertArrayEquals(expected, TestModels.concat(first.ids(), rest.ids()));
        assertEquals(ref.get("text").asText(), first.text() + rest.text());
        assertEquals(ref.get("prompt_ids").size() + 48, s.length());
    }

    @Test
    void emptyPromptIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.generate("", greedy48()));
        assertTrue(e.getMessage().contains("prompt"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.generateIds(new int[0], greedy48(), null, null));
        assertThrows(IllegalArgumentException.class, () -> model.generateBatch(List.of("In the", ""), greedy48()));
    }

    @Test
    void chatWithoutATemplateFailsClearly() {
        RuntimeException e = assertThrows(
                RuntimeException.class,
                () -> model.chat(List.of(io.falconmamba.tokenizer.ChatMessage.user("hi")), greedy48()));
        assertTrue(e.getMessage().contains("chat template"), e.getMessage());
    }
}
