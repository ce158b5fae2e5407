package io.falconmamba.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer (through DJL's binding of the Rust {@code tokenizers}
 * library), with the special tokens and chat templates of the checkpoint it came from.
 *
 * <p>Encoding never truncates and never pads: a text of any length encodes whole. Decoding is the
 * tokenizer's own decoder output, without transformers' optional {@code clean_up_tokenization_spaces}
 * post-processing, so that streamed pieces always concatenate to the full decode.
 *
 * <p>Instances are thread-safe for encoding and decoding; {@link #close()} frees the native tokenizer.
 */
public final class Tokenizer implements AutoCloseable {

    static {
        // DJL ships libtokenizers in its jar; offline mode makes sure it never tries to download one.
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    /** File names of a Hugging Face checkpoint that this class reads. */
    public static final String TOKENIZER_JSON = "tokenizer.json";

    public static final String TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
    public static final String SPECIAL_TOKENS_MAP_JSON = "special_tokens_map.json";
    public static final String CHAT_TEMPLATE_JINJA = "chat_template.jinja";
    public static final String CHAT_TEMPLATE_JSON = "chat_template.json";
    public static final String ADDITIONAL_CHAT_TEMPLATES_DIR = "additional_chat_templates";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> NAMED_SPECIAL_TOKENS =
            List.of("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token");

    private final HuggingFaceTokenizer hf;
    private final String source;
    private final String[] idToToken;
    private final Map<String, Integer> tokenToId;
    private final Map<String, String> namedSpecialTokens; // "bos_token" -> "<s>", in declaration order
    private final List<String> additionalSpecialTokens;
    private final Map<String, Integer> specialTokens; // content -> id, ordered by id
    private final boolean[] special;
    private final Map<String, ChatTemplate> chatTemplates; // name -> template
    private volatile boolean closed;

    private Tokenizer(
            HuggingFaceTokenizer hf,
            String source,
            String[] idToToken,
            Map<String, Integer> tokenToId,
            Map<String, String> namedSpecialTokens,
            List<String> additionalSpecialTokens,
            Map<String, Integer> specialTokens,
            Map<String, String> templateSources) {
        this.hf = hf;
        this.source = source;
        this.idToToken = idToToken;
        this.tokenToId = tokenToId;
        this.namedSpecialTokens = Collections.unmodifiableMap(namedSpecialTokens);
        this.additionalSpecialTokens = List.copyOf(additionalSpecialTokens);
        this.specialTokens = Collections.unmodifiableMap(specialTokens);
        this.special = new boolean[idToToken.length];
        for (int id : specialTokens.values()) {
            special[id] = true;
        }
        Map<String, Object> vars = new LinkedHashMap<>(namedSpecialTokens);
        vars.put("additional_special_tokens", this.additionalSpecialTokens);
        Map<String, ChatTemplate> templates = new LinkedHashMap<>();
        templateSources.forEach((name, text) -> templates.put(name, new ChatTemplate(name, text, vars)));
        this.chatTemplates = Collections.unmodifiableMap(templates);
    }

    // ------------------------------------------------------------------------------------------------
    // Loading

    /**
     * Loads the tokenizer of a local model directory: {@code tokenizer.json} (required), and when
     * present {@code tokenizer_config.json}, {@code special_tokens_map.json} and the chat template
     * ({@code chat_template.jinja}, else {@code chat_template} in {@code tokenizer_config.json}, else
     * {@code chat_template.json}; plus {@code additional_chat_templates/*.jinja}).
     */
    public static Tokenizer fromDirectory(Path directory) {
        if (!Files.isDirectory(directory)) {
            throw new TokenizerException("model directory not found: " + directory);
        }
        Path tokenizerJson = directory.resolve(TOKENIZER_JSON);
        JsonNode config = readOptionalJson(directory.resolve(TOKENIZER_CONFIG_JSON));
        JsonNode specialMap = readOptionalJson(directory.resolve(SPECIAL_TOKENS_MAP_JSON));
        Map<String, String> templates = findChatTemplates(directory, config);
        return load(tokenizerJson, config, specialMap, templates);
    }

    /**
     * Loads a bare {@code tokenizer.json} file (no tokenizer_config.json: special tokens are then only
     * the added tokens marked special, and there is no chat template). A directory is accepted too and
     * means {@link #fromDirectory(Path)}.
     */
    public static Tokenizer fromFile(Path tokenizerJson) {
        if (Files.isDirectory(tokenizerJson)) {
            return fromDirectory(tokenizerJson);
        }
        return load(tokenizerJson, null, null, Map.of());
    }

    /**
     * Builds the tokenizer a GGUF file describes in its {@code tokenizer.*} metadata, through the same Hugging Face
     * tokenizer and chat template machinery as a {@code tokenizer.json}.
     *
     * @throws TokenizerException naming the source when the tokenizer model or pre-tokenizer is not supported or
     *     the vocabulary is inconsistent
     */
    public static Tokenizer fromGguf(GgufVocabulary vocabulary) {
        GgufTokenizerJson built = GgufTokenizerJson.build(vocabulary);
        return load(
                vocabulary.source(), built.tokenizerJson(), built.tokenizerConfig(), null, vocabulary.chatTemplates());
    }

    private static Tokenizer load(
            Path tokenizerJson, JsonNode config, JsonNode specialMap, Map<String, String> templates) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(tokenizerJson);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("tokenizer file not found: " + tokenizerJson, e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer file " + tokenizerJson + ": " + e, e);
        }
        return load(tokenizerJson.toString(), bytes, config, specialMap, templates);
    }

    private static Tokenizer load(
            String tokenizerJson, byte[] bytes, JsonNode config, JsonNode specialMap, Map<String, String> templates) {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new TokenizerException(
                    "tokenizer file " + tokenizerJson + " is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new TokenizerException(
                    "tokenizer file " + tokenizerJson + " is not a Hugging Face tokenizer.json (no \"model\" object)");
        }

        // Vocabulary: the model's vocab plus the added tokens.
        Map<String, Integer> tokenToId = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                tokenToId.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], id = position
            for (int i = 0; i < vocab.size(); i++) {
                tokenToId.put(vocab.get(i).path(0).asText(), i);
            }
        }
        Map<String, Integer> specials = new TreeMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            String content = t.path("content").asText();
            int id = t.path("id").asInt();
            tokenToId.put(content, id);
            if (t.path("special").asBoolean(false)) {
                specials.put(content, id);
            }
        }
        int size = 0;
        for (int id : tokenToId.values()) {
            if (id < 0) {
                throw new TokenizerException("tokenizer file " + tokenizerJson + " has a negative token id " + id);
            }
            size = Math.max(size, id + 1);
        }
        String[] idToToken = new String[size];
        tokenToId.forEach((token, id) -> {
            if (idToToken[id] == null) {
                idToToken[id] = token;
            }
        });
        // Added tokens win over model vocab entries for the same id.
        for (JsonNode t : root.path("added_tokens")) {
            idToToken[t.path("id").asInt()] = t.path("content").asText();
        }

        // Special tokens from tokenizer_config.json, then special_tokens_map.json for what it lacks.
        Map<String, String> named = new LinkedHashMap<>();
        for (String key : NAMED_SPECIAL_TOKENS) {
            String value = tokenContent(config == null ? null : config.get(key));
            if (value == null) {
                value = tokenContent(specialMap == null ? null : specialMap.get(key));
            }
            if (value != null) {
                named.put(key, value);
            }
        }
        List<String> additional = new ArrayList<>();
        JsonNode extra = config != null && config.has("additional_special_tokens")
                ? config.get("additional_special_tokens")
                : specialMap == null ? null : specialMap.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            for (JsonNode n : extra) {
                String value = tokenContent(n);
                if (value != null) {
                    additional.add(value);
                }
            }
        }
        if (config != null) {
            for (Map.Entry<String, JsonNode> e :
                    config.path("added_tokens_decoder").properties()) {
                JsonNode t = e.getValue();
                if (t.path("special").asBoolean(false)) {
                    String content = t.path("content").asText();
                    int id = parseIntOr(e.getKey(), -1);
                    if (id >= 0 && id < size && content.equals(idToToken[id])) {
                        specials.put(content, id);
                    }
                }
            }
        }
        List<String> declared = new ArrayList<>(named.values());
        declared.addAll(additional);
        for (String content : declared) {
            Integer id = tokenToId.get(content);
            if (id != null) {
                specials.put(content, id);
            }
        }
        Map<String, Integer> specialsById = new LinkedHashMap<>();
        specials.entrySet().stream()
                .sorted(Map.Entry.comparingByValue())
                .forEach(e -> specialsById.put(e.getKey(), e.getValue()));

        HuggingFaceTokenizer hf;
        Map<String, String> options = new HashMap<>();
        options.put("addSpecialTokens", "true");
        options.put("truncation", "false");
        options.put("padding", "false");
        options.put("maxLength", "-1");
        options.put("doLowerCase", "false");
        options.put("withOverflowingTokens", "false");
        try {
            // The stream form reads no tokenizer_config.json: no Java-side text mangling, no truncation.
            hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), options);
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            throw new TokenizerException("cannot load tokenizer file " + tokenizerJson + ": " + e.getMessage(), e);
        }
        return new Tokenizer(hf, tokenizerJson, idToToken, tokenToId, named, additional, specialsById, templates);
    }

    private static int parseIntOr(String s, int fallback) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /** A special-token entry: a plain string, or an AddedToken object with "content". */
    private static String tokenContent(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.path("content").asText();
        }
        return null;
    }

    private static JsonNode readOptionalJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                throw new TokenizerException("file " + file + " does not hold a JSON object");
            }
            return node;
        } catch (IOException e) {
            throw new TokenizerException("file " + file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static Map<String, String> findChatTemplates(Path dir, JsonNode config) {
        Map<String, String> templates = new LinkedHashMap<>();
        Path jinja = dir.resolve(CHAT_TEMPLATE_JINJA);
        JsonNode inline = config == null ? null : config.get("chat_template");
        if (Files.isRegularFile(jinja)) {
            templates.put(ChatTemplate.DEFAULT_NAME, readString(jinja));
        } else if (inline != null && inline.isTextual()) {
            templates.put(ChatTemplate.DEFAULT_NAME, inline.asText());
        } else if (inline != null && inline.isArray()) {
            for (JsonNode t : inline) {
                if (!t.path("name").isTextual() || !t.path("template").isTextual()) {
                    throw new TokenizerException("chat_template list in " + dir.resolve(TOKENIZER_CONFIG_JSON)
                            + " has an entry without a string \"name\" and \"template\"");
                }
                templates.put(t.get("name").asText(), t.get("template").asText());
            }
        } else if (inline != null && !inline.isNull()) {
            throw new TokenizerException("chat_template in " + dir.resolve(TOKENIZER_CONFIG_JSON)
                    + " is neither a string nor a list of {name, template}");
        } else {
            JsonNode json = readOptionalJson(dir.resolve(CHAT_TEMPLATE_JSON));
            if (json != null && json.path("chat_template").isTextual()) {
                templates.put(
                        ChatTemplate.DEFAULT_NAME, json.get("chat_template").asText());
            }
        }
        Path more = dir.resolve(ADDITIONAL_CHAT_TEMPLATES_DIR);
        if (Files.isDirectory(more)) {
            try (var files = Files.list(more)) {
                for (Path f : files.sorted().toList()) {
                    String name = f.getFileName().toString();
                    if (name.endsWith(".jinja") && Files.isRegularFile(f)) {
                        templates.putIfAbsent(name.substring(0, name.length() - ".jinja".length()), readString(f));
                    }
                }
            } catch (IOException e) {
                throw new TokenizerException("cannot list " + more + ": " + e, e);
            }
        }
        return templates;
    }

    private static String readString(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e, e);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Encoding and decoding

    /** Encodes with the tokenizer's special tokens (its post-processor), as Hugging Face does by default. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes a text of any length (no truncation, no padding).
     *
     * @param addSpecialTokens whether the tokenizer's post-processor adds its special tokens (such as a
     *                         leading bos); special tokens written inside {@code text} are always
     *                         recognised
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        if (text == null) {
            throw new NullPointerException("text");
        }
        long[] ids;
        long handle = handle();
        // Straight to the native encoder: ids only, without building token strings and char offsets.
        long encoding = TokenizersLibrary.LIB.encode(handle, text, addSpecialTokens);
        try {
            ids = TokenizersLibrary.LIB.getTokenIds(encoding);
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** The token strings of {@code text} (as in tokenizer.json's vocabulary, e.g. {@code "Ġworld"}). */
    public List<String> tokenize(String text, boolean addSpecialTokens) {
        checkOpen();
        return List.of(hf.encode(text, addSpecialTokens, false).getTokens());
    }

    /** Decodes keeping special tokens in the text. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes ids to text. An id at or above {@link #vocabSize()} (a padded model vocabulary's extra rows) decodes to
     * nothing, as Hugging Face's tokenizers skip ids they do not know.
     *
     * @throws TokenizerException if an id is negative
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    /** Decodes {@code ids[from, to)}. */
    public String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        java.util.Objects.checkFromToIndex(from, to, ids.length);
        long[] longs = new long[to - from];
        int n = 0;
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0) {
                throw new TokenizerException("token id " + id + " is negative");
            }
            if (id < idToToken.length) {
                longs[n++] = id;
            }
        }
        if (n == 0) {
            return "";
        }
        checkOpen();
        return TokenizersLibrary.LIB.decode(
                handle(), n == longs.length ? longs : Arrays.copyOf(longs, n), skipSpecialTokens);
    }

    /** A decoder for generated tokens that hands out text only once it is final (UTF-8 safe). */
    public StreamingDecoder streamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }

    // ------------------------------------------------------------------------------------------------
    // Vocabulary and special tokens

    /** Number of ids: the largest id of the vocabulary or the added tokens, plus one. */
    public int vocabSize() {
        return idToToken.length;
    }

    /**
     * The token string of an id.
     *
     * @throws TokenizerException if the id is outside the vocabulary or has no token
     */
    public String idToToken(int id) {
        checkId(id);
        String token = idToToken[id];
        if (token == null) {
            throw new TokenizerException("token id " + id + " has no token in " + source);
        }
        return token;
    }

    /** The id of a token string (of the vocabulary or the added tokens), if there is one. */
    public OptionalInt tokenToId(String token) {
        Integer id = tokenToId.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public Optional<String> bosToken() {
        return namedSpecialToken("bos_token");
    }

    public Optional<String> eosToken() {
        return namedSpecialToken("eos_token");
    }

    public Optional<String> padToken() {
        return namedSpecialToken("pad_token");
    }

    public Optional<String> unkToken() {
        return namedSpecialToken("unk_token");
    }

    public OptionalInt bosTokenId() {
        return idOf(bosToken());
    }

    public OptionalInt eosTokenId() {
        return idOf(eosToken());
    }

    public OptionalInt padTokenId() {
        return idOf(padToken());
    }

    public OptionalInt unkTokenId() {
        return idOf(unkToken());
    }

    /**
     * A named special token from tokenizer_config.json / special_tokens_map.json, by its key there:
     * {@code bos_token}, {@code eos_token}, {@code unk_token}, {@code pad_token}, {@code sep_token},
     * {@code cls_token}, {@code mask_token}.
     */
    public Optional<String> namedSpecialToken(String key) {
        return Optional.ofNullable(namedSpecialTokens.get(key));
    }

    /** All named special tokens, key (such as {@code "eos_token"}) to content. */
    public Map<String, String> namedSpecialTokens() {
        return namedSpecialTokens;
    }

    /** {@code additional_special_tokens} of tokenizer_config.json / special_tokens_map.json. */
    public List<String> additionalSpecialTokens() {
        return additionalSpecialTokens;
    }

    /**
     * Every special token (content to id, ordered by id): the added tokens marked special, the
     * added_tokens_decoder entries marked special, and the named and additional special tokens.
     */
    public Map<String, Integer> specialTokens() {
        return specialTokens;
    }

    /** Whether the id is one of {@link #specialTokens()}. */
    public boolean isSpecialToken(int id) {
        checkId(id);
        return special[id];
    }

    private OptionalInt idOf(Optional<String> token) {
        return token.map(this::tokenToId).orElse(OptionalInt.empty());
    }

    // ------------------------------------------------------------------------------------------------
    // Chat templates

    /** The default chat template (named {@code "default"}), if the checkpoint has one. */
    public Optional<ChatTemplate> chatTemplate() {
        return chatTemplate(ChatTemplate.DEFAULT_NAME);
    }

    /** A chat template by name (for checkpoints that list several). */
    public Optional<ChatTemplate> chatTemplate(String name) {
        return Optional.ofNullable(chatTemplates.get(name));
    }

    /** The names of the checkpoint's chat templates (empty if it has none). */
    public Set<String> chatTemplateNames() {
        return Collections.unmodifiableSet(new TreeSet<>(chatTemplates.keySet()));
    }

    /**
     * Renders a conversation with the default chat template.
     *
     * @throws TokenizerException if the checkpoint has no chat template, or rendering fails
     */
    public String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return requireTemplate().render(messages, addGenerationPrompt);
    }

    /**
     * Renders a conversation and encodes it without adding special tokens (the template writes them),
     * as transformers' {@code apply_chat_template(tokenize=True)} does.
     */
    public int[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return encode(applyChatTemplate(messages, addGenerationPrompt), false);
    }

    private ChatTemplate requireTemplate() {
        return chatTemplate()
                .orElseThrow(() -> new TokenizerException(
                        chatTemplates.isEmpty()
                                ? "this checkpoint has no chat template (" + source + ": no " + CHAT_TEMPLATE_JINJA
                                        + " and no chat_template in " + TOKENIZER_CONFIG_JSON
                                        + "); use plain text prompts"
                                : "this checkpoint has several chat templates and none is named \"default\": "
                                        + chatTemplateNames() + "; pick one with chatTemplate(name)"));
    }

    // ------------------------------------------------------------------------------------------------

    private void checkId(int id) {
        if (id < 0 || id >= idToToken.length) {
            throw new TokenizerException(
                    "token id " + id + " is out of range: the vocabulary size is " + idToToken.length);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new TokenizerException("tokenizer " + source + " is closed");
        }
    }

    private long handle() {
        checkOpen();
        return hf.getHandle();
    }

    @Override
    public String toString() {
        return "Tokenizer[" + source + ", vocab " + idToToken.length + ", templates " + chatTemplates.keySet() + "]";
    }

    /** Frees the native tokenizer. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            hf.close();
        }
    }
}
