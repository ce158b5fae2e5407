package io.falconmamba.core;

import io.falconmamba.core.kernels.Format;

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

    /** The kernels' format of these elements. */
    public Format format() {
        return switch (this) {
            case F32 -> Format.F32;
            case F16 -> Format.F16;
            case BF16 -> Format.BF16;
        };
    }
}
