package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LongTextTest {
    @Test
    void fiveMegabyteTextEncodesWhole() {
        // All the reference strings (spaces, CJK, emoji, special-token text...), repeated to 5 MB.
        StringBuilder unit = new StringBuilder();
        for (JsonNode c : Fixtures.reference().get("cases")) {
            unit.append(c.get("text").asText()).append('\n');
        }
        int unitBytes = unit.toString().getBytes(StandardCharsets.UTF_8).length;
        String text = unit.toString().repeat(5 * 1024 * 1024 / unitBytes + 1);
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(bytes >= 5 * 1024 * 1024, "bytes " + bytes);
        try (Tokenizer t = Tokenizer.fromDirectory(Fixtures.tokenizerDir())) {
            int[] ids = t.encode(text, false);
            assertTrue(ids.length > 1_000_000, "ids " + ids.length);
            String back = t.decode(ids, false);
            assertEquals(text.length(), back.length());
            assertTrue(text.equals(back), "decode(encode(text)) differs from text");
            // The end of the text is there (nothing truncated at some max length).
            int[] tail = t.encode(unit.toString(), false);
            assertEquals(
                    unit.toString(),
                    t.decode(java.util.Arrays.copyOfRange(ids, ids.length - tail.length, ids.length), false));
        }
    }
}
