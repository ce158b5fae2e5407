package io.falconmamba.loader;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** The loader's one JSON mapper, strict: duplicate keys and trailing content are errors. */
final class Json {

    static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Json() {}

    /**
     * Decodes strictly as UTF-8 (malformed or unmappable input is an error, never replaced).
     *
     * @throws CharacterCodingException on the first invalid sequence
     */
    static String decodeUtf8(byte[] bytes) throws CharacterCodingException {
        return StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString();
    }

    /** The JSON type of a node in words, for error messages. */
    static String typeOf(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> node.isIntegralNumber() ? "an integer" : "a non-integer number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase();
        };
    }

    /** A short, printable rendering of a value for messages (long values cut). */
    static String show(JsonNode node) {
        String s = node == null ? "nothing" : node.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
