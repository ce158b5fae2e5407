package io.falconmamba.core.kernels;

/**
 * The layout the eight-token kernels ({@link PackedMatMul}, {@link QMatMul}) read x in: tokens in groups of
 * {@link #SIZE}, each group stored by column, so column {@code c} of token {@code t} of a group is at
 * {@code group base + SIZE·c + t}. One kernel step's broadcasts then read one cache line, where rows of x one
 * token apart (often a multiple of 4 KiB) would all fall in one L1 set.
 */
final class TokenGroups {

    static final int SIZE = 8;

    private TokenGroups() {}

    /** Token {@code t}'s row {@code src[srcOff .. srcOff+width)} into {@code dst}, groups of {@code width} columns each. */
    static void put(float[] src, int srcOff, int width, float[] dst, int t) {
        int base = (t / SIZE) * SIZE * width + t % SIZE;
        for (int c = 0; c < width; c++) {
            dst[base + SIZE * c] = src[srcOff + c];
        }
    }
}
