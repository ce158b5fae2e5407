package io.falconmamba.tokenizer;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * The tokenizer a GGUF file carries in its {@code tokenizer.*} metadata, as plain values (the GGUF reader lives
 * in the loader; this module only needs the values).
 *
 * @param source        names the file in messages
 * @param model         {@code tokenizer.ggml.model} ({@code gpt2} is supported)
 * @param pre           {@code tokenizer.ggml.pre}, or {@code null} when absent (= {@code default})
 * @param tokens        {@code tokenizer.ggml.tokens}: the token of each id
 * @param tokenTypes    {@code tokenizer.ggml.token_type} (llama.cpp's: 1 normal, 2 unknown, 3 control,
 *                      4 user-defined, 5 unused, 6 byte), or {@code null} when absent (all normal)
 * @param merges        {@code tokenizer.ggml.merges}: "left right" pairs, highest priority first
 * @param bosId         {@code tokenizer.ggml.bos_token_id}
 * @param eosId         {@code tokenizer.ggml.eos_token_id}
 * @param padId         {@code tokenizer.ggml.padding_token_id}
 * @param unkId         {@code tokenizer.ggml.unknown_token_id}
 * @param addBos        {@code tokenizer.ggml.add_bos_token} (false when absent)
 * @param addEos        {@code tokenizer.ggml.add_eos_token} (false when absent)
 * @param chatTemplates {@code tokenizer.chat_template} under {@link ChatTemplate#DEFAULT_NAME}, and each
 *                      {@code tokenizer.chat_template.NAME} under its name
 */
public record GgufVocabulary(
        String source,
        String model,
        String pre,
        List<String> tokens,
        int[] tokenTypes,
        List<String> merges,
        OptionalInt bosId,
        OptionalInt eosId,
        OptionalInt padId,
        OptionalInt unkId,
        boolean addBos,
        boolean addEos,
        Map<String, String> chatTemplates) {

    /** llama.cpp's token types that mark a token as special (never split, skipped when decoding). */
    public static final int TYPE_UNKNOWN = 2;

    public static final int TYPE_CONTROL = 3;
    public static final int TYPE_USER_DEFINED = 4;

    public GgufVocabulary {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(model, "model");
        tokens = List.copyOf(tokens);
        merges = merges == null ? null : List.copyOf(merges);
        tokenTypes = tokenTypes == null ? null : tokenTypes.clone();
        chatTemplates = Map.copyOf(chatTemplates);
    }
}
