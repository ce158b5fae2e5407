package io.falconmamba.core.kernels;

/**
 * The layout the multi-token kernels read x in: tokens in groups ({@link #SIZE} for the eight-token kernels of
 * {@link PackedMatMul} and {@link QMatMul}, {@link MatMul#GROUP} for the prefill tiles), each group stored by
 * column, so column {@code c} of token {@code t} of a group of {@code size} is at {@code group base + size·c + t}.
 * One kernel step's broadcasts then read one cache line, where rows of x one token apart (often a multiple of
 * 4 KiB) would all fall in one L1 set.
 */
final class TokenGroups {

    static final int SIZE = 8;

    private TokenGroups() {}

    /** Token {@code t}'s row {@code src[srcOff .. srcOff+width)} into {@code dst}, groups of {@code width} columns each. */
    static void put(float[] src, int srcOff, int width, float[] dst, int t) {
        put(src, srcOff, width, dst, t, SIZE);
    }

    /** As {@link #put(float[], int, int, float[], int)}, in groups of {@code size} tokens. */
    static void put(float[] src, int srcOff, int width, float[] dst, int t, int size) {
        int base = (t / size) * size * width + t % size;
        for (int c = 0; c < width; c++) {
            dst[base + size * c] = src[srcOff + c];
        }
    }
}
