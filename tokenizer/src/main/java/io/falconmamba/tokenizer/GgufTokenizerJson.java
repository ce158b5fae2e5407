package io.falconmamba.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The Hugging Face {@code tokenizer.json} (and the {@code tokenizer_config.json} fields the loader reads) that
 * is equivalent to a GGUF vocabulary, so one tokenizer implementation serves both kinds of checkpoint.
 *
 * <p>Tokenizer model {@code gpt2} is byte-level BPE. The pre-tokenizers are the ones Hugging Face files spell out
 * for the names llama.cpp writes in {@code tokenizer.ggml.pre}: {@code default} (and {@code gpt-2}) is GPT-2's
 * byte-level split; {@code falcon} is Falcon's own: runs of punctuation, then the GPT-2 split, then digits in
 * groups of three. Tokens of type control or unknown become special added tokens, user-defined ones added tokens.
 */
record GgufTokenizerJson(byte[] tokenizerJson, JsonNode tokenizerConfig) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static final List<String> SUPPORTED_MODELS = List.of("gpt2");
    static final List<String> SUPPORTED_PRE = List.of("default", "gpt-2", "falcon");

    static GgufTokenizerJson build(GgufVocabulary v) {
        String where = v.source() + ": ";
        if (!SUPPORTED_MODELS.contains(v.model())) {
            throw new TokenizerException(where + "tokenizer.ggml.model '" + v.model()
                    + "' is not supported (supported: " + String.join(", ", SUPPORTED_MODELS) + ")");
        }
        String pre = v.pre() == null ? "default" : v.pre();
        if (!SUPPORTED_PRE.contains(pre)) {
            throw new TokenizerException(where + "tokenizer.ggml.pre '" + pre + "' is not supported (supported: "
                    + String.join(", ", SUPPORTED_PRE) + ")");
        }
        List<String> tokens = v.tokens();
        int[] types = v.tokenTypes();
        if (types != null && types.length != tokens.size()) {
            throw new TokenizerException(where + "tokenizer.ggml.token_type has " + types.length
                    + " entries but tokenizer.ggml.tokens has " + tokens.size());
        }
        if (v.merges() == null) {
            throw new TokenizerException(where + "tokenizer.ggml.merges is missing (a gpt2 tokenizer needs merges)");
        }

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = JSON.createObjectNode();
        Map<String, Integer> seen = new HashMap<>();
        for (int id = 0; id < tokens.size(); id++) {
            String t = tokens.get(id);
            Integer prev = seen.putIfAbsent(t, id);
            if (prev != null) {
                throw new TokenizerException(
                        where + "tokenizer.ggml.tokens holds '" + t + "' twice (ids " + prev + " and " + id + ")");
            }
            vocab.put(t, id);
            int type = types == null ? 1 : types[id];
            boolean special = type == GgufVocabulary.TYPE_CONTROL || type == GgufVocabulary.TYPE_UNKNOWN;
            if (special || type == GgufVocabulary.TYPE_USER_DEFINED) {
                ObjectNode a = added.addObject();
                a.put("id", id);
                a.put("content", t);
                a.put("single_word", false);
                a.put("lstrip", false);
                a.put("rstrip", false);
                a.put("normalized", !special);
                a.put("special", special);
            }
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", preTokenizer(pre));
        root.set("post_processor", postProcessor(v, where));
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (int i = 0; i < v.merges().size(); i++) {
            String m = v.merges().get(i);
            int sp = m.indexOf(' ');
            if (sp <= 0 || sp == m.length() - 1 || m.indexOf(' ', sp + 1) >= 0) {
                throw new TokenizerException(where + "tokenizer.ggml.merges entry " + i + " '" + m
                        + "' is not two tokens joined by a space");
            }
            merges.addArray().add(m.substring(0, sp)).add(m.substring(sp + 1));
        }

        ObjectNode config = JSON.createObjectNode();
        named(config, "bos_token", v.bosId(), tokens, where);
        named(config, "eos_token", v.eosId(), tokens, where);
        named(config, "pad_token", v.padId(), tokens, where);
        named(config, "unk_token", v.unkId(), tokens, where);
        try {
            return new GgufTokenizerJson(JSON.writeValueAsBytes(root), config);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new TokenizerException(where + "cannot build the tokenizer: " + e.getMessage(), e);
        }
    }

    private static void named(ObjectNode config, String key, OptionalInt id, List<String> tokens, String where) {
        if (id.isEmpty()) {
            return;
        }
        int i = id.getAsInt();
        if (i < 0 || i >= tokens.size()) {
            throw new TokenizerException(
                    where + key + " id " + i + " is outside the vocabulary of " + tokens.size() + " tokens");
        }
        config.put(key, tokens.get(i));
    }

    private static JsonNode preTokenizer(String pre) {
        ObjectNode byteLevel = JSON.createObjectNode();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        byteLevel.put("use_regex", true);
        if (!pre.equals("falcon")) {
            return byteLevel;
        }
        ObjectNode seq = JSON.createObjectNode();
        seq.put("type", "Sequence");
        ArrayNode list = seq.putArray("pretokenizers");
        list.addObject().put("type", "Punctuation").put("behavior", "Contiguous");
        list.add(byteLevel);
        list.addObject().put("type", "Digits").put("individual_digits", false);
        ObjectNode split = list.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", "[0-9][0-9][0-9]");
        split.put("behavior", "Isolated");
        split.put("invert", false);
        return seq;
    }

    /** Adds bos/eos around a sequence when the file says so, as llama.cpp does. */
    private static JsonNode postProcessor(GgufVocabulary v, String where) {
        ObjectNode p = JSON.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        ObjectNode specials = p.putObject("special_tokens");
        String bos = v.addBos() ? token(v, v.bosId(), "add_bos_token", "bos_token_id", where) : null;
        String eos = v.addEos() ? token(v, v.eosId(), "add_eos_token", "eos_token_id", where) : null;
        for (int part = 0; part < 2; part++) {
            ArrayNode target = part == 0 ? single : pair;
            if (bos != null) {
                target.addObject().putObject("SpecialToken").put("id", bos).put("type_id", part);
            }
            target.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            if (part == 1) {
                target.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            }
            if (eos != null) {
                target.addObject().putObject("SpecialToken").put("id", eos).put("type_id", part);
            }
        }
        for (String s : new String[] {bos, eos}) {
            if (s != null) {
                ObjectNode e = specials.putObject(s);
                e.put("id", s);
                e.putArray("ids").add(v.tokens().indexOf(s));
                e.putArray("tokens").add(s);
            }
        }
        return p;
    }

    private static String token(GgufVocabulary v, OptionalInt id, String flag, String key, String where) {
        if (id.isEmpty()) {
            throw new TokenizerException(
                    where + "tokenizer.ggml." + flag + " is true but tokenizer.ggml." + key + " is missing");
        }
        int i = id.getAsInt();
        if (i < 0 || i >= v.tokens().size()) {
            throw new TokenizerException(where + "tokenizer.ggml." + key + " " + i + " is outside the vocabulary of "
                    + v.tokens().size());
        }
        return v.tokens().get(i);
    }
}
