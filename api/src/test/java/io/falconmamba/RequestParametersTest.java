package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestParametersTest {

    private static final GenerationConfig SAMPLING = GenerationConfig.builder()
            .doSample(true)
            .temperature(0.8)
            .topK(40)
            .maxNewTokens(64)
            .stopStrings("\n\n")
            .build();

    @Test
    void unsetParametersKeepTheConfiguration() {
        assertEquals(SAMPLING, new RequestParameters(null, null, null, null, null, null).applyTo(SAMPLING));
    }

    @Test
    void temperatureZeroIsGreedyAndAPositiveOneSamples() {
        GenerationConfig greedy = new RequestParameters(0.0, null, null, 12, List.of("."), 7L).applyTo(SAMPLING);
        assertFalse(greedy.isSampling());
        assertEquals(12, greedy.maxNewTokens());
        assertEquals(List.of("."), greedy.stopStrings());
        assertEquals(7L, greedy.seed().getAsLong());

        GenerationConfig base = GenerationConfig.builder().doSample(false).build();
        GenerationConfig hot = new RequestParameters(0.5, 0.9, 5, null, null, null).applyTo(base);
        assertTrue(hot.isSampling());
        assertEquals(0.5f, hot.temperature());
        assertEquals(0.9f, hot.topP());
        assertEquals(5, hot.topK());
    }

    @Test
    void outOfRangeValuesNameTheParameter() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new RequestParameters(-1.0, null, null, null, null, null).applyTo(SAMPLING));
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> new RequestParameters(null, 1.5, null, null, null, null).applyTo(SAMPLING));
        assertTrue(e.getMessage().contains("topP"), e.getMessage());
        assertSame(null, new RequestParameters(null, null, null, null, null, null).stopSequences());
    }
}
