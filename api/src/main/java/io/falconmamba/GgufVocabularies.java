package io.falconmamba;

import io.falconmamba.loader.gguf.GgufFile;
import io.falconmamba.loader.gguf.GgufValue;
import io.falconmamba.loader.gguf.GgufValueType;
import io.falconmamba.tokenizer.ChatTemplate;
import io.falconmamba.tokenizer.GgufVocabulary;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/** Reads the {@code tokenizer.*} metadata of a GGUF file into the values the tokenizer module builds from. */
final class GgufVocabularies {

    static final String PREFIX = "tokenizer.ggml.";
    static final String CHAT_TEMPLATE = "tokenizer.chat_template";

    private GgufVocabularies() {}

    /**
     * @throws io.falconmamba.loader.gguf.GgufException naming the file and key when a value is missing or of the
     *     wrong type
     */
    static GgufVocabulary read(GgufFile f) {
        long[] types = f.get(PREFIX + "token_type") == null ? null : f.integers(PREFIX + "token_type");
        int[] tokenTypes = null;
        if (types != null) {
            tokenTypes = new int[types.length];
            for (int i = 0; i < types.length; i++) {
                tokenTypes[i] = (int) types[i];
            }
        }
        List<String> merges = f.get(PREFIX + "merges") == null ? null : f.strings(PREFIX + "merges");
        Map<String, String> templates = new LinkedHashMap<>();
        for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
            String key = e.getKey();
            if (key.equals(CHAT_TEMPLATE)) {
                templates.put(ChatTemplate.DEFAULT_NAME, f.string(key));
            } else if (key.startsWith(CHAT_TEMPLATE + ".") && e.getValue().type() == GgufValueType.STRING) {
                templates.put(key.substring(CHAT_TEMPLATE.length() + 1), f.string(key));
            }
        }
        return new GgufVocabulary(
                f.path().toString(),
                f.string(PREFIX + "model"),
                f.string(PREFIX + "pre", null),
                f.strings(PREFIX + "tokens"),
                tokenTypes,
                merges,
                id(f, "bos_token_id"),
                id(f, "eos_token_id"),
                id(f, "padding_token_id"),
                id(f, "unknown_token_id"),
                f.bool(PREFIX + "add_bos_token", false),
                f.bool(PREFIX + "add_eos_token", false),
                templates);
    }

    private static OptionalInt id(GgufFile f, String key) {
        return f.get(PREFIX + key) == null ? OptionalInt.empty() : OptionalInt.of(f.integer(PREFIX + key, 0));
    }
}
