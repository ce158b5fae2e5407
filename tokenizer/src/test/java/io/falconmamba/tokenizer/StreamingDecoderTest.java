package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class StreamingDecoderTest {
    static Tokenizer tok;

    @BeforeAll
    static void load() {
        tok = Tokenizer.fromDirectory(Fixtures.tokenizerDir());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    /** Streams ids one at a time and checks every piece is whole characters. */
    static List<String> stream(int[] ids, boolean skip) {
        StreamingDecoder d = tok.streamingDecoder(skip);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            String p = d.push(id);
            assertWholeCharacters(p);
            pieces.add(p);
        }
        String last = d.flush();
        assertWholeCharacters(last);
        pieces.add(last);
        assertFalse(d.hasPending());
        return pieces;
    }

    static void assertWholeCharacters(String piece) {
        assertFalse(piece.contains("\uFFFD"), () -> "piece has U+FFFD: " + piece);
        for (int i = 0; i < piece.length(); i++) {
            char c = piece.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(
                        i + 1 < piece.length() && Character.isLowSurrogate(piece.charAt(i + 1)),
                        () -> "lone high surrogate in piece " + piece);
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), () -> "lone low surrogate in piece " + piece);
            }
        }
    }

    @Test
    void everyReferenceStringStreamsToItsFullDecode() {
        for (JsonNode c : Fixtures.reference().get("cases")) {
            int[] ids = Fixtures.ints(c.get("ids_with_special_tokens"));
            for (boolean skip : new boolean[] {false, true}) {
                String expected =
                        c.get(skip ? "decoded_skip_special" : "decoded").asText();
                assertEquals(
                        expected,
                        String.join("", stream(ids, skip)),
                        c.get("text").asText() + " skip=" + skip);
                assertEquals(expected, tok.decode(ids, skip));
            }
        }
    }

    @Test
    void emojiAndCjkSplitOverTokensAreHeldBackUntilComplete() {
        String text = "东京 😀🎉 family 👨\u200d👩\u200d👧 flag 🇫🇷 寿司 👍🏽!";
        int[] ids = tok.encode(text, false);
        // The tiny vocabulary splits these characters into several byte tokens each.
        int heldBack = 0;
        for (int i = 1; i <= ids.length; i++) {
            if (tok.decode(java.util.Arrays.copyOf(ids, i), false).endsWith("\uFFFD")) {
                heldBack++;
            }
        }
        assertTrue(heldBack > 10, "the test needs multi-token characters, got " + heldBack);
        List<String> pieces = stream(ids, false);
        assertEquals(text, String.join("", pieces));
        long empty = pieces.stream().filter(String::isEmpty).count();
        assertTrue(empty >= heldBack - 1, "pieces held back: " + empty);
    }

    @Test
    void longGenerationDecodesOnlyAWindow() {
        // 20k tokens stream in well under a second; the decoder keeps only the recent ids.
        int[] ids = tok.encode("In the beginning God created the heaven and the earth. 東京😀\n".repeat(500), false);
        long t0 = System.nanoTime();
        String all = String.join("", stream(ids, true));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(tok.decode(ids, true), all);
        assertTrue(ms < 20_000, "took " + ms + " ms for " + ids.length + " ids");
    }

    @Test
    void idsPastTheVocabularyStreamAsNothingAndNegativeIdsAreRejected() {
        int[] ids = tok.encode("Hello world, again", false);
        StringBuilder padded = new StringBuilder();
        StreamingDecoder d = tok.streamingDecoder(false);
        for (int id : ids) {
            padded.append(d.push(id));
            assertEquals("", d.push(512));
            assertEquals("", d.push(527));
        }
        padded.append(d.flush());
        assertEquals(tok.decode(ids, false), padded.toString());
        TokenizerException e = assertThrows(TokenizerException.class, () -> d.push(-1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        assertEquals("", d.flush());
    }
}
