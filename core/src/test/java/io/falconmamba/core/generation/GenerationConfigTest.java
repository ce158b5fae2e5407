package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.PrefillMode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class GenerationConfigTest {

    private static void invalid(String parameter, UnaryOperator<GenerationConfig.Builder> set) {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> set.apply(GenerationConfig.builder()).build());
        assertTrue(
                e.getMessage().contains(parameter), () -> "message should name " + parameter + ": " + e.getMessage());
    }

    @Test
    void everyInvalidValueIsRejectedNamingTheParameter() {
        invalid("maxNewTokens", b -> b.maxNewTokens(-1));
        invalid("temperature", b -> b.temperature(-0.1));
        invalid("temperature", b -> b.temperature(Double.NaN));
        invalid("temperature", b -> b.temperature(Double.POSITIVE_INFINITY));
        invalid("temperature", b -> b.temperature(1e300));
        invalid("topK", b -> b.topK(-1));
        invalid("topP", b -> b.topP(0));
        invalid("topP", b -> b.topP(-0.5));
        invalid("topP", b -> b.topP(1.0001));
        invalid("topP", b -> b.topP(Double.NaN));
        invalid("minP", b -> b.minP(-0.01));
        invalid("minP", b -> b.minP(1.01));
        invalid("minP", b -> b.minP(Double.NaN));
        invalid("repetitionPenalty", b -> b.repetitionPenalty(0));
        invalid("repetitionPenalty", b -> b.repetitionPenalty(-1));
        invalid("repetitionPenalty", b -> b.repetitionPenalty(Double.NaN));
        invalid("repetitionPenalty", b -> b.repetitionPenalty(Double.POSITIVE_INFINITY));
        invalid("stopTokenIds", b -> b.stopTokenIds(-1));
        invalid("stopTokenIds", b -> b.addStopTokenId(-5));
        invalid("stopStrings", b -> b.stopStrings(""));
        invalid("prefillMode", b -> b.prefillMode(null));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> GenerationConfig.builder().stopTokenIds(java.util.Arrays.asList(1, null)));
        assertTrue(e.getMessage().contains("stopTokenIds"));
        e = assertThrows(
                IllegalArgumentException.class,
                () -> GenerationConfig.builder().stopStrings(java.util.Arrays.asList("a", null)));
        assertTrue(e.getMessage().contains("stopStrings"));
    }

    @Test
    void boundaryValuesAreAccepted() {
        GenerationConfig c = GenerationConfig.builder()
                .maxNewTokens(0)
                .temperature(0)
                .topK(0)
                .topP(1)
                .minP(0)
                .repetitionPenalty(1e-3)
                .build();
        assertEquals(0, c.maxNewTokens());
        GenerationConfig d = GenerationConfig.builder().topP(1e-6).minP(1).build();
        assertEquals(1f, d.minP());
    }

    @Test
    void defaultsAreGreedyWithEverythingOff() {
        GenerationConfig c = GenerationConfig.defaults();
        assertFalse(c.doSample());
        assertFalse(c.isSampling());
        assertEquals(GenerationConfig.DEFAULT_MAX_NEW_TOKENS, c.maxNewTokens());
        assertEquals(1f, c.temperature());
        assertEquals(0, c.topK());
        assertEquals(1f, c.topP());
        assertEquals(0f, c.minP());
        assertEquals(1f, c.repetitionPenalty());
        assertEquals(OptionalLong.empty(), c.seed());
        assertTrue(c.stopTokenIds().isEmpty());
        assertTrue(c.stopStrings().isEmpty());
        assertEquals(PrefillMode.chunked(PrefillMode.DEFAULT_CHUNK), c.prefillMode());
        assertFalse(
                GenerationConfig.builder().doSample(true).temperature(0).build().isSampling(),
                "temperature 0 is greedy");
    }

    @Test
    void toBuilderRoundTripsAndIsIndependent() {
        GenerationConfig c = GenerationConfig.builder()
                .maxNewTokens(7)
                .doSample(true)
                .temperature(0.7)
                .topK(40)
                .topP(0.9)
                .minP(0.05)
                .repetitionPenalty(1.1)
                .seed(99)
                .stopTokenIds(3, 0)
                .stopStrings("\n\n")
                .prefillMode(PrefillMode.PARALLEL)
                .build();
        assertEquals(c, c.toBuilder().build());
        assertEquals(c.hashCode(), c.toBuilder().build().hashCode());
        GenerationConfig d = c.toBuilder().topK(5).addStopTokenId(9).build();
        assertEquals(40, c.topK());
        assertEquals(Set.of(0, 3), c.stopTokenIds());
        assertEquals(Set.of(0, 3, 9), d.stopTokenIds());
        assertTrue(c.isStopToken(3));
        assertFalse(c.isStopToken(9));
        assertEquals(OptionalLong.of(99), c.seed());
        assertEquals(OptionalLong.empty(), c.toBuilder().randomSeed().build().seed());
        assertThrows(UnsupportedOperationException.class, () -> c.stopTokenIds().add(5));
        assertThrows(UnsupportedOperationException.class, () -> c.stopStrings().add("x"));
    }

    @Test
    void fromHuggingFaceReadsTheGenerationConfigKeys() {
        Map<String, Object> m = new HashMap<>();
        m.put("do_sample", true);
        m.put("temperature", 0.6);
        m.put("top_p", 0.9);
        m.put("min_p", 0.1);
        m.put("repetition_penalty", 1.2);
        m.put("max_new_tokens", 128);
        m.put("eos_token_id", List.of(11, 3));
        m.put("bos_token_id", 0);
        m.put("transformers_version", "4.44.0");
        m.put("top_k", null); // JSON null: keep the default
        GenerationConfig c = GenerationConfig.fromHuggingFace(m);
        assertTrue(c.doSample());
        assertEquals(0.6f, c.temperature());
        assertEquals(50, c.topK(), "HF's default top_k");
        assertEquals(0.9f, c.topP());
        assertEquals(0.1f, c.minP());
        assertEquals(1.2f, c.repetitionPenalty());
        assertEquals(128, c.maxNewTokens());
        assertEquals(Set.of(3, 11), c.stopTokenIds());

        GenerationConfig fixture = GenerationConfig.fromHuggingFace(Map.of(
                "_from_model_config",
                true,
                "bos_token_id",
                0,
                "eos_token_id",
                0,
                "pad_token_id",
                0,
                "use_cache",
                true));
        assertEquals(Set.of(0), fixture.stopTokenIds());
        assertFalse(fixture.isSampling());

        GenerationConfig overlay = GenerationConfig.builder()
                .seed(4)
                .applyHuggingFace(Map.of("top_k", 10L, "temperature", 1))
                .build();
        assertEquals(10, overlay.topK());
        assertEquals(1f, overlay.temperature());
        assertEquals(OptionalLong.of(4), overlay.seed());
    }

    @Test
    void fromHuggingFaceRejectsWrongTypesAndValuesNamingTheKey() {
        Map<String, Object[]> bad = Map.of(
                "do_sample", new Object[] {"yes"},
                "temperature", new Object[] {"hot", -1.0},
                "top_k", new Object[] {2.5, "x", 1e12},
                "top_p", new Object[] {0.0, 2},
                "min_p", new Object[] {true},
                "repetition_penalty", new Object[] {0},
                "max_new_tokens", new Object[] {-3},
                "eos_token_id", new Object[] {"</s>", List.of(1, "2")});
        Map<String, String> builderName = Map.of(
                "top_k",
                "topK",
                "top_p",
                "topP",
                "temperature",
                "temperature",
                "repetition_penalty",
                "repetitionPenalty",
                "max_new_tokens",
                "maxNewTokens");
        bad.forEach((key, values) -> {
            for (Object v : values) {
                Map<String, Object> m = new HashMap<>();
                m.put(key, v);
                IllegalArgumentException e = assertThrows(
                        IllegalArgumentException.class, () -> GenerationConfig.fromHuggingFace(m), key + "=" + v);
                String alt = builderName.getOrDefault(key, key);
                assertTrue(
                        e.getMessage().contains(key) || e.getMessage().contains(alt),
                        () -> key + "=" + v + ": " + e.getMessage());
            }
        });
    }
}
