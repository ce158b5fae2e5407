package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.GenerationConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A prefill reported step by step generates exactly what one uninterrupted prefill does. */
class PrefillProgressTest {

    @Test
    void reportedPrefillMatchesPlainGeneration() {
        try (FalconMamba fm = TestModels.load(TestModels.fixture("tiny-falcon-mamba"))) {
            int[] prompt = new Random(3).ints(2500, 4, 512).toArray();
            prompt[0] = 0;
            GenerationConfig cfg = GenerationConfig.builder()
                    .maxNewTokens(8)
                    .stopTokenIds()
                    .prefillMode(PrefillMode.chunked(300))
                    .build();
            List<int[]> reports = new ArrayList<>();
            Completion withProgress =
                    fm.generateIds(prompt, cfg, null, null, (fed, total) -> reports.add(new int[] {fed, total}));
            Completion plain = fm.generateIds(prompt, cfg, null, null);
            assertArrayEquals(plain.ids(), withProgress.ids());
            assertEquals(3, reports.size(), "steps of 1024 tokens: 1024, 2048, 2500");
            assertArrayEquals(new int[] {2500, 2500}, reports.get(2));
        }
    }
}
