package io.falconmamba.core;

import io.falconmamba.core.kernels.Format;
import java.util.Locale;

/**
 * Block quantization of weight matrices at load time, in llama.cpp's formats (ggml {@code block_q8_0} and
 * {@code block_q4_0}), so quantized rows are byte-for-byte what llama.cpp's reference quantizer writes:
 *
 * <ul>
 *   <li>{@link #Q8_0}: per 32 weights, an IEEE half scale {@code d = max|w| / 127} then 32 signed bytes
 *       {@code q = roundf(w / d)} (34 bytes); {@code w ≈ q·d}.</li>
 *   <li>{@link #Q4_0}: per 32 weights, a half scale {@code d = m / -8} where {@code m} is the (signed) weight of
 *       largest magnitude, then 16 bytes: byte {@code j} holds element {@code j} in its low nibble and element
 *       {@code j + 16} in its high nibble, {@code q = min(15, trunc(w/d + 8.5))} (18 bytes); {@code w ≈ (q - 8)·d}.</li>
 * </ul>
 *
 * Only rows whose length is a multiple of {@link #BLOCK} can be quantized; other matrices stay as they are.
 */
public enum Quantization {
    /** Weights used as stored (F32/F16/BF16). */
    NONE(0),
    Q8_0(2 + 32),
    Q4_0(2 + 16);

    /** Weights per block. */
    public static final int BLOCK = 32;

    private final int blockBytes;

    Quantization(int blockBytes) {
        this.blockBytes = blockBytes;
    }

    /** Bytes of one block of 32 weights (0 for {@link #NONE}). */
    public int blockBytes() {
        return blockBytes;
    }

    /** {@code none}, {@code q8_0} or {@code q4_0}, any case. */
    public static Quantization parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "none", "f32", "" -> NONE;
            case "q8_0", "q8" -> Q8_0;
            case "q4_0", "q4" -> Q4_0;
            default ->
                throw new IllegalArgumentException("unknown quantization '" + s + "': expected q8_0, q4_0 or none");
        };
    }

    /** The block format the weights are quantized to; {@link #NONE} has none. */
    public Format format() {
        return switch (this) {
            case Q8_0 -> Format.Q8_0;
            case Q4_0 -> Format.Q4_0;
            case NONE -> throw new IllegalStateException("NONE is not a block format");
        };
    }

    /** The name llama.cpp uses ({@code q8_0}, {@code q4_0}) or {@code none}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
