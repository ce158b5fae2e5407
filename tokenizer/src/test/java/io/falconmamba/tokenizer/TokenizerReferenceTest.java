package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Encode/decode against the Hugging Face reference (tokenizer-reference.json). */
class TokenizerReferenceTest {
    static Tokenizer fromTokenizerDir;
    static Tokenizer fromModelDir;
    static Tokenizer fromFile;
    static JsonNode ref;

    @BeforeAll
    static void load() {
        ref = Fixtures.reference();
        fromTokenizerDir = Tokenizer.fromDirectory(Fixtures.tokenizerDir());
        fromModelDir = Tokenizer.fromDirectory(Fixtures.modelDir());
        fromFile = Tokenizer.fromFile(Fixtures.tokenizerDir().resolve("tokenizer.json"));
    }

    @AfterAll
    static void close() {
        fromTokenizerDir.close();
        fromModelDir.close();
        fromFile.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        JsonNode cases = Fixtures.reference().get("cases");
        for (int i = 0; i < cases.size(); i++) {
            out.add(Arguments.of(i, cases.get(i).get("text").asText()));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "[{0}] {1}")
    @MethodSource("cases")
    void encodesAndDecodesLikeHuggingFace(int index, String text) {
        JsonNode c = ref.get("cases").get(index);
        for (Tokenizer t : List.of(fromTokenizerDir, fromModelDir, fromFile)) {
            assertArrayEquals(Fixtures.ints(c.get("ids")), t.encode(text, false), "ids");
            assertArrayEquals(
                    Fixtures.ints(c.get("ids_with_special_tokens")), t.encode(text, true), "ids_with_special_tokens");
            assertArrayEquals(Fixtures.ints(c.get("ids_with_special_tokens")), t.encode(text), "encode() default");
            assertEquals(Fixtures.strings(c.get("tokens")), t.tokenize(text, false), "tokens");
            int[] ids = Fixtures.ints(c.get("ids_with_special_tokens"));
            assertEquals(c.get("decoded").asText(), t.decode(ids, false), "decoded");
            assertEquals(c.get("decoded").asText(), t.decode(ids), "decode() default");
            assertEquals(c.get("decoded_skip_special").asText(), t.decode(ids, true), "decoded_skip_special");
            List<String> tokens = Fixtures.strings(c.get("tokens"));
            int[] plain = Fixtures.ints(c.get("ids"));
            for (int k = 0; k < plain.length; k++) {
                assertEquals(tokens.get(k), t.idToToken(plain[k]));
                assertEquals(OptionalInt.of(plain[k]), t.tokenToId(tokens.get(k)));
            }
        }
    }

    @Test
    void vocabularyAndSpecialTokens() {
        for (Tokenizer t : List.of(fromTokenizerDir, fromModelDir)) {
            assertEquals(ref.get("vocab_size").asInt(), t.vocabSize());
            assertEquals(ref.get("bos_token").asText(), t.bosToken().orElseThrow());
            assertEquals(ref.get("eos_token").asText(), t.eosToken().orElseThrow());
            assertEquals(ref.get("pad_token").asText(), t.padToken().orElseThrow());
            assertEquals(OptionalInt.of(0), t.bosTokenId());
            assertEquals(OptionalInt.of(0), t.eosTokenId());
            assertEquals(OptionalInt.of(0), t.padTokenId());
            assertTrue(t.unkToken().isEmpty());
            assertTrue(t.unkTokenId().isEmpty());
            Map<String, Integer> expected = Fixtures.JSON.convertValue(
                    ref.get("special_tokens"),
                    new com.fasterxml.jackson.core.type.TypeReference<Map<String, Integer>>() {});
            assertEquals(expected, t.specialTokens());
            for (int id = 0; id < t.vocabSize(); id++) {
                assertEquals(expected.containsValue(id), t.isSpecialToken(id), "special " + id);
            }
        }
        // A bare tokenizer.json knows the special added tokens but not which is bos/eos.
        assertEquals(4, fromFile.specialTokens().size());
        assertTrue(fromFile.bosToken().isEmpty());
        assertTrue(fromFile.chatTemplate().isEmpty());
        assertEquals("<|im_end|>", fromFile.idToToken(3));
        assertTrue(fromFile.tokenToId("no such token").isEmpty());
    }

    @Test
    void demoModelTokenizerRoundTrips() {
        try (Tokenizer t = Tokenizer.fromDirectory(Fixtures.demoDir())) {
            assertEquals(OptionalInt.of(0), t.eosTokenId());
            String text =
                    "In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void.";
            int[] ids = t.encode(text, false);
            assertTrue(ids.length > 5 && ids.length < text.length());
            assertEquals(text, t.decode(ids, true));
            assertFalse(t.chatTemplate().isPresent());
        }
    }

    @Test
    void addSpecialTokensFlagFollowsThePostProcessor(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // The fixture's post-processor adds nothing; give a copy one that prepends bos, as Llama-style
        // tokenizers do, and check that the flag switches it.
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) Fixtures.JSON.readTree(
                Fixtures.tokenizerDir().resolve("tokenizer.json").toFile());
        root.set("post_processor", Fixtures.JSON.readTree("""
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}
        """));
        Path file = tmp.resolve("tokenizer.json");
        Fixtures.JSON.writeValue(file.toFile(), root);
        try (Tokenizer t = Tokenizer.fromFile(file)) {
            int[] plain = t.encode("Hello world", false);
            int[] withSpecial = t.encode("Hello world", true);
            assertArrayEquals(new int[] {43, 72, 276, 82, 272, 289, 328}, plain);
            assertEquals(plain.length + 1, withSpecial.length);
            assertEquals(0, withSpecial[0]);
            assertArrayEquals(withSpecial, t.encode("Hello world"));
            assertEquals("Hello world", t.decode(withSpecial, true));
            assertEquals("<|endoftext|>Hello world", t.decode(withSpecial, false));
        }
    }

    @Test
    void worksOffline() {
        // DJL must run from the native library inside its jar, never downloading one.
        assertTrue(ai.djl.util.Utils.isOfflineMode(), "DJL offline mode");
    }
}
