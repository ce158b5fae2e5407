package io.falconmamba.core;

/** Element types the engine can read weights in, straight from mapped memory. */
public enum WeightType {
    F32(4),
    F16(2),
    BF16(2);

    private final int bytes;

    WeightType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }
}
