package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ErrorsTest {
    static void assertMentions(TokenizerException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message should mention '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void missingTokenizerJson(@TempDir Path tmp) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromDirectory(tmp));
        assertMentions(e, tmp.resolve("tokenizer.json").toString(), "not found");
        Path file = tmp.resolve("nope.json");
        assertMentions(assertThrows(TokenizerException.class, () -> Tokenizer.fromFile(file)), file.toString());
        Path noDir = tmp.resolve("no-such-dir");
        assertMentions(assertThrows(TokenizerException.class, () -> Tokenizer.fromDirectory(noDir)), noDir.toString());
    }

    @Test
    void unparsableTokenizerJson(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("tokenizer.json");
        Files.writeString(file, "{\"model\": {\"type\": \"BPE\", ");
        assertMentions(
                assertThrows(TokenizerException.class, () -> Tokenizer.fromDirectory(tmp)), file.toString(), "JSON");
        Files.writeString(file, "[1, 2, 3]");
        assertMentions(assertThrows(TokenizerException.class, () -> Tokenizer.fromFile(file)), file.toString());
        // Valid JSON with a model object that the tokenizers library rejects.
        Files.writeString(file, "{\"model\": {\"type\": \"NoSuchModel\"}}");
        assertMentions(assertThrows(TokenizerException.class, () -> Tokenizer.fromFile(file)), file.toString());
    }

    @Test
    void unparsableTokenizerConfig(@TempDir Path tmp) throws Exception {
        Path dir = Fixtures.copyTokenizerTo(tmp.resolve("m"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{oops");
        assertMentions(
                assertThrows(TokenizerException.class, () -> Tokenizer.fromDirectory(dir)),
                dir.resolve("tokenizer_config.json").toString());
    }

    @Test
    void idsOutOfRange() {
        try (Tokenizer t = Tokenizer.fromDirectory(Fixtures.tokenizerDir())) {
            // Ids past the tokenizer's vocabulary (a padded model's extra rows) decode to nothing, as in Hugging Face.
            assertEquals(t.decode(new int[] {5, 6}, false), t.decode(new int[] {5, 512, 6, 100000}, false));
            assertEquals("", t.decode(new int[] {513}, true));
            assertMentions(assertThrows(TokenizerException.class, () -> t.decode(new int[] {-3}, true)), "-3");
            assertMentions(assertThrows(TokenizerException.class, () -> t.idToToken(100000)), "100000", "512");
            assertMentions(assertThrows(TokenizerException.class, () -> t.isSpecialToken(512)), "512");
            assertEquals("", t.decode(new int[0], false));
        }
    }

    @Test
    void closedTokenizer() {
        Tokenizer t = Tokenizer.fromDirectory(Fixtures.tokenizerDir());
        t.close();
        t.close();
        assertMentions(assertThrows(TokenizerException.class, () -> t.encode("x")), "closed");
        assertMentions(assertThrows(TokenizerException.class, () -> t.decode(new int[] {5}, false)), "closed");
    }
}
