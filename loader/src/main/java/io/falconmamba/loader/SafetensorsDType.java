package io.falconmamba.loader;

import io.falconmamba.core.WeightType;

/**
 * Every element type the safetensors format defines, with its size in bits. The sub-byte types (F4, F6_*) are
 * packed: a tensor of them must fill a whole number of bytes.
 */
public enum SafetensorsDType {
    BOOL(8),
    F4(4),
    F6_E2M3(6),
    F6_E3M2(6),
    U8(8),
    I8(8),
    F8_E5M2(8),
    F8_E4M3(8),
    F8_E8M0(8),
    I16(16),
    U16(16),
    F16(16),
    BF16(16),
    I32(32),
    U32(32),
    F32(32),
    C64(64),
    F64(64),
    I64(64),
    U64(64);

    private final int bits;

    SafetensorsDType(int bits) {
        this.bits = bits;
    }

    /** Size of one element in bits. */
    public int bits() {
        return bits;
    }

    /** Size of one element in bytes, rounded up for the sub-byte types. */
    public int byteSize() {
        return (bits + 7) / 8;
    }

    /** The core weight type of the same encoding, or {@code null} when the engine does not read this dtype as weights. */
    public WeightType weightType() {
        return switch (this) {
            case F32 -> WeightType.F32;
            case F16 -> WeightType.F16;
            case BF16 -> WeightType.BF16;
            default -> null;
        };
    }

    /** The dtype of a core weight type. */
    public static SafetensorsDType of(WeightType type) {
        return switch (type) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
        };
    }

    /** The dtype named by a header's {@code "dtype"} string (exact, as safetensors writes it), or {@code null}. */
    static SafetensorsDType parse(String s) {
        for (SafetensorsDType t : values()) {
            if (t.name().equals(s)) {
                return t;
            }
        }
        return null;
    }

    /**
     * Bytes that {@code elements} elements occupy.
     *
     * @throws ArithmeticException when the size overflows a long
     * @throws IllegalArgumentException when a sub-byte type does not fill a whole number of bytes
     */
    long bytesFor(long elements) {
        long totalBits = Math.multiplyExact(elements, (long) bits);
        if (totalBits % 8 != 0) {
            throw new IllegalArgumentException(
                    elements + " elements of " + this + " do not fill a whole number of bytes");
        }
        return totalBits / 8;
    }
}
