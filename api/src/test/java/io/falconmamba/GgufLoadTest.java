package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.loader.gguf.GgufFile;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.GgufVocabulary;
import io.falconmamba.tokenizer.Tokenizer;
import io.falconmamba.tokenizer.TokenizerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A GGUF file loaded alone through the facade: the tokenizer built from its metadata against the Hugging Face
 * reference strings and chat cases (and the tokenizer.json of the same vocabulary), and generation.
 */
class GgufLoadTest {

    private static final Path FOLDER = TestModels.fixture("gguf/gguf-falcon-mamba");

    @TempDir
    static Path dir;

    private static FalconMamba model;
    private static Tokenizer fromJson;
    private static JsonNode ref;

    @BeforeAll
    static void load() throws IOException {
        Path alone = dir.resolve("model-F32.gguf");
        Files.copy(FOLDER.resolve("model-F32.gguf"), alone);
        model = FalconMamba.load(alone, LoadOptions.defaults().withThreads(2));
        fromJson = Tokenizer.fromDirectory(FOLDER);
        ref = TestModels.json(TestModels.testRoot().resolve("fixtures/tokenizer-reference.json"));
    }

    @AfterAll
    static void close() {
        model.close();
        fromJson.close();
    }

    @Test
    void tokenizerMatchesTheReferenceStrings() {
        Tokenizer t = model.tokenizer();
        JsonNode cases = ref.get("cases");
        assertEquals(40, cases.size());
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            assertArrayEquals(TestModels.ints(c.get("ids")), t.encode(text, false), text);
            assertArrayEquals(TestModels.ints(c.get("ids_with_special_tokens")), t.encode(text, true), text);
            assertArrayEquals(fromJson.encode(text, true), t.encode(text, true), text);
            int[] ids = TestModels.ints(c.get("ids_with_special_tokens"));
            assertEquals(c.get("decoded").asText(), t.decode(ids, false), text);
            assertEquals(c.get("decoded_skip_special").asText(), t.decode(ids, true), text);
            List<String> tokens = new ArrayList<>();
            c.get("tokens").forEach(n -> tokens.add(n.asText()));
            assertEquals(tokens, t.tokenize(text, false), text);
        }
        assertEquals(ref.get("vocab_size").asInt(), t.vocabSize());
        assertEquals(ref.get("bos_token").asText(), t.bosToken().orElseThrow());
        assertEquals(ref.get("eos_token").asText(), t.eosToken().orElseThrow());
        assertEquals(ref.get("pad_token").asText(), t.padToken().orElseThrow());
        ref.get("special_tokens")
                .properties()
                .forEach(e ->
                        assertEquals(e.getValue().asInt(), t.specialTokens().get(e.getKey()), e.getKey()));
    }

    @Test
    void chatTemplateFromTheMetadata() {
        Tokenizer t = model.tokenizer();
        for (JsonNode c : ref.get("chat_template_cases")) {
            List<ChatMessage> messages = new ArrayList<>();
            c.get("messages")
                    .forEach(m -> messages.add(new ChatMessage(
                            m.get("role").asText(), m.get("content").asText())));
            boolean gen = c.get("add_generation_prompt").asBoolean();
            assertEquals(c.get("text").asText(), t.applyChatTemplate(messages, gen));
            assertArrayEquals(TestModels.ints(c.get("ids")), t.encodeChat(messages, gen));
        }
    }

    @Test
    void generatesTheReferenceGreedyIds() {
        JsonNode r = TestModels.json(FOLDER.resolve("reference.json"));
        JsonNode f32 = r.get("types").get("Q4_K_M");
        int[] prompt = TestModels.ints(r.get("sequences").get(0));
        GenerationConfig greedy = model.defaults().toBuilder()
                .doSample(false)
                .maxNewTokens(16)
                .stopTokenIds(List.of())
                .build();
        int[] got = model.generateIds(prompt, greedy, null, null).ids();
        // up to the first step whose reference top-2 margin is below 0.01 (there, float rounding may swap them)
        for (int i = 0; i < got.length; i++) {
            if (f32.get("greedy_top2_margins").get(i).asDouble() < 0.01) {
                break;
            }
            assertEquals(f32.get("greedy_ids").get(i).asInt(), got[i], "step " + i);
        }
        assertEquals(dir.resolve("model-F32.gguf"), model.directory());
        assertTrue(model.config().architecture().name().equals("FALCON_MAMBA"));
    }

    @Test
    void vocabularyReadFromTheMetadata() {
        try (GgufFile f = GgufFile.open(FOLDER.resolve("model-F32.gguf"))) {
            GgufVocabulary v = GgufVocabularies.read(f);
            assertEquals("gpt2", v.model());
            assertEquals("falcon", v.pre());
            assertEquals(512, v.tokens().size());
            assertEquals(OptionalInt.of(0), v.bosId());
            assertTrue(v.chatTemplates().containsKey("default"));
        }
    }

    @Test
    void unsupportedTokenizerModelOrPreTokenizerIsAClearError() {
        try (GgufFile f = GgufFile.open(FOLDER.resolve("model-F32.gguf"))) {
            GgufVocabulary v = GgufVocabularies.read(f);
            GgufVocabulary llama3 = new GgufVocabulary(
                    v.source(),
                    v.model(),
                    "llama-bpe",
                    v.tokens(),
                    v.tokenTypes(),
                    v.merges(),
                    v.bosId(),
                    v.eosId(),
                    v.padId(),
                    v.unkId(),
                    false,
                    false,
                    Map.of());
            TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromGguf(llama3));
            assertTrue(e.getMessage().contains("tokenizer.ggml.pre 'llama-bpe' is not supported"), e.getMessage());
            assertTrue(e.getMessage().contains(v.source()), e.getMessage());
            GgufVocabulary spm = new GgufVocabulary(
                    v.source(),
                    "llama",
                    null,
                    v.tokens(),
                    v.tokenTypes(),
                    v.merges(),
                    v.bosId(),
                    v.eosId(),
                    v.padId(),
                    v.unkId(),
                    false,
                    false,
                    Map.of());
            e = assertThrows(TokenizerException.class, () -> Tokenizer.fromGguf(spm));
            assertTrue(e.getMessage().contains("tokenizer.ggml.model 'llama' is not supported"), e.getMessage());
        }
    }

    @Test
    void addBosTokenPrependsIt() {
        try (GgufFile f = GgufFile.open(FOLDER.resolve("model-F32.gguf"))) {
            GgufVocabulary v = GgufVocabularies.read(f);
            GgufVocabulary withBos = new GgufVocabulary(
                    v.source(),
                    v.model(),
                    v.pre(),
                    v.tokens(),
                    v.tokenTypes(),
                    v.merges(),
                    v.bosId(),
                    v.eosId(),
                    v.padId(),
                    v.unkId(),
                    true,
                    false,
                    Map.of());
            try (Tokenizer t = Tokenizer.fromGguf(withBos)) {
                int[] plain = model.tokenizer().encode("Hello world", true);
                int[] got = t.encode("Hello world", true);
                assertEquals(plain.length + 1, got.length);
                assertEquals(0, got[0]);
                assertArrayEquals(plain, java.util.Arrays.copyOfRange(got, 1, got.length));
            }
        }
    }

    /**
     * A Q4_K_M file (Q4_K, Q6_K and Q5_0 blocks) through the facade: the tied model's, whose reference greedy steps
     * have margins of 0.01 and more from the first on. Mapped (this small file's default), the blocks run as stored;
     * in memory, the Q4_K and Q6_K matrices run as {@link io.falconmamba.core.kernels.Q4KMatrix} and
     * {@link io.falconmamba.core.kernels.Q6KMatrix} tiles.
     */
    @ParameterizedTest
    @EnumSource(
            value = WeightStorage.class,
            names = {"MAPPED", "IN_MEMORY"})
    void quantizedFileGeneratesItsReferenceGreedyIds(WeightStorage storage) {
        Path tied = TestModels.fixture("gguf/gguf-mamba-tied");
        JsonNode r = TestModels.json(tied.resolve("reference.json"));
        JsonNode q = r.get("types").get("Q4_K_M");
        int[] prompt = TestModels.ints(r.get("sequences").get(0));
        try (FalconMamba m = FalconMamba.load(
                tied.resolve("model-Q4_K_M.gguf"),
                LoadOptions.defaults().withThreads(2).withStorage(storage))) {
            assertEquals(storage, m.model().weightStorage());
            GenerationConfig greedy = m.defaults().toBuilder()
                    .doSample(false)
                    .maxNewTokens(16)
                    .stopTokenIds(List.of())
                    .build();
            int[] got = m.generateIds(prompt, greedy, null, null).ids();
            int compared = 0;
            for (int i = 0; i < got.length; i++) {
                if (q.get("greedy_top2_margins").get(i).asDouble() < 0.01) {
                    break;
                }
                assertEquals(q.get("greedy_ids").get(i).asInt(), got[i], "step " + i);
                compared++;
            }
            assertTrue(compared > 0, "no step had a reference margin of 0.01");
        }
    }
}
