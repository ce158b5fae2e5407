package io.falconmamba.core.kernels;

import java.util.Locale;

/**
 * The storage formats a weight matrix can be in: element formats ({@link #F32}, {@link #F16}, {@link #BF16}), one
 * weight per element, and llama.cpp's block formats, {@link #blockSize} weights in {@link #blockBytes} bytes.
 * Which class holds a matrix of a format (and so which kernels multiply by it) is up to the loader: see the
 * package comment.
 */
public enum Format {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2),
    /** ggml {@code block_q8_0}: a half scale {@code d}, then 32 signed bytes {@code q}; {@code w = q·d}. */
    Q8_0(32, 2 + 32),
    /**
     * ggml {@code block_q4_0}: a half scale {@code d}, then 16 bytes, element {@code j} in the low nibble of byte
     * {@code j} and element {@code j + 16} in its high nibble; {@code w = (q - 8)·d}.
     */
    Q4_0(32, 2 + 16);

    private final int blockSize;
    private final int blockBytes;

    Format(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Weights per block (1 for the element formats). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes of one block (of one element for the element formats). */
    public int blockBytes() {
        return blockBytes;
    }

    /** Whether weights come in blocks with a shared scale. */
    public boolean blocked() {
        return blockSize > 1;
    }

    /** Whether a row of {@code cols} weights splits into whole blocks. */
    public boolean fits(long cols) {
        return cols >= 0 && cols % blockSize == 0;
    }

    /** Bytes of {@code cols} weights stored row-major in this format ({@code cols} whole blocks). */
    public long rowBytes(long cols) {
        if (!fits(cols)) {
            throw new IllegalArgumentException(
                    cols + " weights do not split into " + label() + " blocks of " + blockSize);
        }
        return cols / blockSize * blockBytes;
    }

    /** The lower-case name llama.cpp and safetensors use ({@code f16}, {@code q8_0}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
