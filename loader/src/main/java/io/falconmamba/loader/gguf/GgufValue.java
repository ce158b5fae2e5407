package io.falconmamba.loader.gguf;

import java.util.List;
import java.util.Objects;

/**
 * One metadata value as the file stores it. {@code value} is a {@link Long} for every integer type (unsigned
 * 64-bit values above {@link Long#MAX_VALUE} wrap, as {@link Long#toUnsignedString} shows them), a {@link Double}
 * for both float types, a {@link Boolean}, a {@link String}, or for {@link GgufValueType#ARRAY} a list of the
 * elements' values, all of {@code elementType}.
 *
 * @param type        the stored type
 * @param elementType the element type of an array, {@code null} otherwise
 * @param value       the value, as above
 */
public record GgufValue(GgufValueType type, GgufValueType elementType, Object value) {

    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        if ((type == GgufValueType.ARRAY) != (elementType != null)) {
            throw new IllegalArgumentException("an element type goes with arrays only");
        }
    }

    /** The elements of an array value. */
    public List<?> list() {
        return (List<?>) value;
    }

    /** A short description for messages and listings: scalars in full, arrays by type and length. */
    public String show() {
        if (type == GgufValueType.ARRAY) {
            return "[" + elementType + " × " + list().size() + "]";
        }
        if (type == GgufValueType.UINT64) {
            return Long.toUnsignedString((Long) value);
        }
        if (type == GgufValueType.STRING) {
            String s = (String) value;
            return s.length() > 80 ? '"' + s.substring(0, 77) + "...\" (" + s.length() + " chars)" : '"' + s + '"';
        }
        return String.valueOf(value);
    }

    /** The type as messages name it: {@code UINT32}, or {@code ARRAY of STRING}. */
    public String typeName() {
        return type == GgufValueType.ARRAY ? "ARRAY of " + elementType : type.name();
    }
}
