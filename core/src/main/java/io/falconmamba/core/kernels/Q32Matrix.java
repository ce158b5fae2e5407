package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;

/**
 * ggml's 32-weight blocks with one half scale, row-major as a GGUF file stores them: {@link Format#Q8_0},
 * {@link Format#Q4_0}, {@link Format#Q4_1}, {@link Format#Q5_0}, {@link Format#Q5_1} and {@link Format#IQ4_NL}.
 * In the 4- and 5-bit formats byte {@code j} of the quants holds weight {@code j} in its low nibble and weight
 * {@code j + 16} in its high one; the 5-bit formats add a little-endian u32 whose bit {@code j} is weight
 * {@code j}'s fifth bit. Each weight is computed in float32 as ggml's {@code dequantize_row_*} does.
 */
public final class Q32Matrix extends BlockMatrix {

    /** The 16 non-uniform levels of IQ4_NL (and IQ4_XS). */
    static final byte[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    Q32Matrix(String name, int rows, int cols, Format format, MemorySegment data) {
        super(name, rows, cols, format, data);
    }

    /** Decode through {@link BlockMatVec} where it has a kernel for the format, else the generic rows. */
    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (BlockMatVec.covers(format())) {
            BlockMatVec.multiply(this, x, xOff, out, outOff, pool);
        } else {
            super.matVec(x, xOff, out, outOff, pool);
        }
    }

    @Override
    void decodeBlock(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        switch (format()) {
            case Q8_0 -> {
                for (int j = 0; j < 32; j++) {
                    y[o + j] = i8(s, p + 2 + j) * d;
                }
            }
            case Q4_0 -> {
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 2 + j);
                    y[o + j] = ((q & 0xF) - 8) * d;
                    y[o + j + 16] = ((q >>> 4) - 8) * d;
                }
            }
            case Q4_1 -> {
                float m = f16(s, p + 2);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 4 + j);
                    y[o + j] = (q & 0xF) * d + m;
                    y[o + j + 16] = (q >>> 4) * d + m;
                }
            }
            case Q5_0 -> {
                int qh = s.get(I32, p + 2);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 6 + j);
                    y[o + j] = (((q & 0xF) | (((qh >>> j) & 1) << 4)) - 16) * d;
                    y[o + j + 16] = (((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
                }
            }
            case Q5_1 -> {
                float m = f16(s, p + 2);
                int qh = s.get(I32, p + 4);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 8 + j);
                    y[o + j] = ((q & 0xF) | (((qh >>> j) & 1) << 4)) * d + m;
                    y[o + j + 16] = ((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
                }
            }
            case IQ4_NL -> {
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 2 + j);
                    y[o + j] = d * IQ4_LEVELS[q & 0xF];
                    y[o + j + 16] = d * IQ4_LEVELS[q >>> 4];
                }
            }
            default -> throw new IllegalStateException(format() + " is not a 32-weight block format");
        }
    }
}
