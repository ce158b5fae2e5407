package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Stop strings and streamed text, token by token (ids of the tiny fixtures' tokenizer). */
class TextStreamTest {

    private static Tokenizer tokenizer;

    @BeforeAll
    static void open() {
        tokenizer = Tokenizer.fromDirectory(TestModels.fixture("tiny-falcon-mamba"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void stopStringSpanningTokensFiresOnTheTokenThatCompletesIt() {
        // 38 = "C", 449 = " pe", 337 = "ac", 475 = " when"
        List<String> pieces = new ArrayList<>();
        TextStream s = new TextStream(tokenizer, pieces::add, List.of("peac"));
        s.onToken(38);
        assertFalse(s.shouldStop(38));
        s.onToken(449);
        assertFalse(s.shouldStop(449));
        s.onToken(337);
        assertTrue(s.shouldStop(337));
        s.finish();
        assertEquals("C peac", s.text());
        assertEquals(s.text(), String.join("", pieces));
    }

    @Test
    void stopStringNamingASpecialTokenFires() {
        // The returned text skips special tokens, but a stop string "<|im_end|>" (id 3) must still match, as it
        // does in transformers.
        TextStream s = new TextStream(tokenizer, null, List.of("<|im_end|>"));
        s.onToken(38);
        assertFalse(s.shouldStop(38));
        s.onToken(3);
        assertTrue(s.shouldStop(3));
        s.finish();
        assertEquals("C", s.text());
    }

    @Test
    void noStopStringsNeverStops() {
        TextStream s = new TextStream(tokenizer, null, List.of());
        for (int id : new int[] {38, 3, 449}) {
            s.onToken(id);
            assertFalse(s.shouldStop(id));
        }
        s.finish();
        assertEquals("C pe", s.text());
    }
}
