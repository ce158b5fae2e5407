package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import org.junit.jupiter.api.Test;

/** Chat replies end at the ChatML end-of-turn token even when it is not the checkpoint's eos. */
class ChatEndOfTurnTest {

    @Test
    void chatStopsAtImEndWhenTheTemplateUsesIt() {
        try (FalconMamba fm = TestModels.load(TestModels.fixture("tiny-falcon-mamba"));
                FalconMamba demo = TestModels.load(TestModels.demo())) {
            int imEnd = fm.tokenizer().tokenToId("<|im_end|>").getAsInt();
            GenerationConfig none = GenerationConfig.builder().stopTokenIds().build();
            assertFalse(none.isStopToken(imEnd));
            assertTrue(fm.chatConfig(none).isStopToken(imEnd), "the chat config adds <|im_end|>");
            GenerationConfig already = none.toBuilder().addStopTokenId(imEnd).build();
            assertSame(already, fm.chatConfig(already));
            // A model without a chat template gets its config unchanged.
            assertSame(none, demo.chatConfig(none));
        }
    }
}
