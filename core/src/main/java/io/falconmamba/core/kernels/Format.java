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
    Q4_0(32, 2 + 16),
    /** ggml {@code block_q4_1}: half scale {@code d} and minimum {@code m}, 16 bytes of nibbles as Q4_0; {@code w = q·d + m}. */
    Q4_1(32, 2 + 2 + 16),
    /** ggml {@code block_q5_0}: half {@code d}, 32 fifth bits (a little-endian u32), nibbles as Q4_0; {@code w = (q - 16)·d}. */
    Q5_0(32, 2 + 4 + 16),
    /** ggml {@code block_q5_1}: half {@code d} and {@code m}, 32 fifth bits, nibbles as Q4_0; {@code w = q·d + m}. */
    Q5_1(32, 2 + 2 + 4 + 16),
    /** ggml {@code block_q2_K}: 16 bytes of 4-bit scale and min pairs, 64 bytes of 2-bit quants, half {@code d}, {@code dmin}. */
    Q2_K(256, 16 + 64 + 2 + 2),
    /** ggml {@code block_q3_K}: 32 bytes of high bits, 64 bytes of 2-bit quants, 12 bytes of 6-bit scales, half {@code d}. */
    Q3_K(256, 32 + 64 + 12 + 2),
    /** ggml {@code block_q4_K}: half {@code d}, {@code dmin}, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles. */
    Q4_K(256, 2 + 2 + 12 + 128),
    /** ggml {@code block_q5_K}: as Q4_K with 32 bytes of fifth bits before the nibbles. */
    Q5_K(256, 2 + 2 + 12 + 32 + 128),
    /** ggml {@code block_q6_K}: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 int8 scales, half {@code d}. */
    Q6_K(256, 128 + 64 + 16 + 2),
    /** ggml {@code block_iq4_nl}: as Q4_0, the nibble indexing 16 non-uniform levels; {@code w = d·level[q]}. */
    IQ4_NL(32, 2 + 16),
    /** ggml {@code block_iq4_xs}: half {@code d}, 8 six-bit scales (2 + 4 bytes), 8 IQ4_NL nibble groups. */
    IQ4_XS(256, 2 + 2 + 4 + 128);

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
