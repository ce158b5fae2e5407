package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;

/**
 * ggml's 256-weight super-blocks, row-major as a GGUF file stores them: the K-quants {@link Format#Q2_K},
 * {@link Format#Q3_K}, {@link Format#Q4_K}, {@link Format#Q5_K}, {@link Format#Q6_K} and {@link Format#IQ4_XS}.
 * A super-block carries a half scale (and for some a half minimum scale) and small per-group scales; each weight
 * is computed in float32 as ggml's {@code dequantize_row_*} does: group scale first ({@code d·sc}), then times
 * the quant, then the group minimum subtracted.
 */
public final class KQuantMatrix extends BlockMatrix {

    KQuantMatrix(String name, int rows, int cols, Format format, MemorySegment data) {
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
        switch (format()) {
            case Q2_K -> q2k(s, p, y, o);
            case Q3_K -> q3k(s, p, y, o);
            case Q4_K -> q4k(s, p, y, o);
            case Q5_K -> q5k(s, p, y, o);
            case Q6_K -> q6k(s, p, y, o);
            case IQ4_XS -> iq4xs(s, p, y, o);
            default -> throw new IllegalStateException(format() + " is not a K-quant format");
        }
    }

    /**
     * Q2_K: scale byte {@code g} (low nibble scale, high nibble min) covers 16 weights; each 128-weight half reads
     * its 32 quant bytes four times, two bits higher each time.
     */
    private static void q2k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 80);
        float dmin = f16(s, p + 82);
        int g = 0;
        for (int half = 0; half < 2; half++) {
            long q = p + 16 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++, g++) {
                    int sc = u8(s, p + g);
                    float dl = d * (sc & 0xF);
                    float ml = dmin * (sc >>> 4);
                    for (int l = 0; l < 16; l++) {
                        y[o++] = dl * ((u8(s, q + 16 * part + l) >>> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    /**
     * Q3_K: as Q2_K's layout with a high-bit mask (a clear bit subtracts 4) and 16 six-bit scales biased by 32
     * packed in 12 bytes.
     */
    private static void q3k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 108);
        long scales = p + 96;
        int g = 0;
        int mask = 1;
        for (int half = 0; half < 2; half++) {
            long q = p + 32 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
                for (int part = 0; part < 2; part++, g++) {
                    int low4 = g < 8 ? u8(s, scales + g) & 0xF : u8(s, scales + g - 8) >>> 4;
                    int high2 = (u8(s, scales + 8 + (g & 3)) >>> (2 * (g >>> 2))) & 3;
                    float dl = d * ((low4 | (high2 << 4)) - 32);
                    for (int l = 0; l < 16; l++) {
                        int k = 16 * part + l;
                        int q2 = (u8(s, q + k) >>> shift) & 3;
                        y[o++] = dl * (q2 - ((u8(s, p + k) & mask) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    /**
     * The eight six-bit group scales of a K-quant super-block, one per byte, from its 12 scale bytes (0..7 in
     * {@code s0}, 8..11 in {@code s1}): scales 0..3 are the low six bits of bytes 0..3; scales 4..7 the low
     * nibbles of bytes 8..11 under the top two bits of bytes 0..3. Q4_K and Q5_K read
     * them from here.
     */
    static long scales6(long s0, long s1) {
        long high = (s1 & 0x0F0F0F0FL) | ((s0 >>> 2) & 0x30303030L);
        return (s0 & 0x3F3F3F3FL) | (high << 32);
    }

    /** The eight six-bit group minimums, as {@link #scales6}: bytes 4..7, then the high nibbles of 8..11. */
    static long mins6(long s0, long s1) {
        long high = ((s1 >>> 4) & 0x0F0F0F0FL) | ((s0 >>> 34) & 0x30303030L);
        return ((s0 >>> 32) & 0x3F3F3F3FL) | (high << 32);
    }

    /** Q4_K: each 64 weights read 32 bytes, low nibbles with group 2i's scale and min, high with group 2i+1's. */
    private static void q4k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float dmin = f16(s, p + 2);
        long s0 = s.get(I64, p + 4);
        long s1 = s.get(I32, p + 12) & 0xFFFFFFFFL;
        long sc = scales6(s0, s1);
        long m = mins6(s0, s1);
        for (int i = 0; i < 4; i++, o += 64) {
            long q = p + 16 + 32L * i;
            float d1 = d * (int) ((sc >>> (16 * i)) & 0xFF);
            float m1 = dmin * (int) ((m >>> (16 * i)) & 0xFF);
            float d2 = d * (int) ((sc >>> (16 * i + 8)) & 0xFF);
            float m2 = dmin * (int) ((m >>> (16 * i + 8)) & 0xFF);
            // Eight bytes per read: with a segment read per byte, C2's hoisted checks for this loop could fail
            // every call and leave it to the interpreter.
            for (int l = 0; l < 32; l += 8) {
                long bytes = s.get(I64, q + l);
                for (int k = 0; k < 8; k++, bytes >>>= 8) {
                    int b = (int) bytes & 0xFF;
                    y[o + l + k] = d1 * (b & 0xF) - m1;
                    y[o + 32 + l + k] = d2 * (b >>> 4) - m2;
                }
            }
        }
    }

    /** Q5_K: Q4_K with fifth bits: bit 2i of byte l tops low nibble l of part i, bit 2i+1 the high nibble. */
    private static void q5k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float dmin = f16(s, p + 2);
        long s0 = s.get(I64, p + 4);
        long s1 = s.get(I32, p + 12) & 0xFFFFFFFFL;
        long sc = scales6(s0, s1);
        long m = mins6(s0, s1);
        for (int i = 0; i < 4; i++, o += 64) {
            long q = p + 48 + 32L * i;
            float d1 = d * (int) ((sc >>> (16 * i)) & 0xFF);
            float m1 = dmin * (int) ((m >>> (16 * i)) & 0xFF);
            float d2 = d * (int) ((sc >>> (16 * i + 8)) & 0xFF);
            float m2 = dmin * (int) ((m >>> (16 * i + 8)) & 0xFF);
            for (int l = 0; l < 32; l++) {
                int b = u8(s, q + l);
                int h = u8(s, p + 16 + l);
                y[o + l] = d1 * ((b & 0xF) | (((h >>> (2 * i)) & 1) << 4)) - m1;
                y[o + 32 + l] = d2 * ((b >>> 4) | (((h >>> (2 * i + 1)) & 1) << 4)) - m2;
            }
        }
    }

    /** Q6_K: each 128-weight half reads 64 low-nibble bytes, 32 bytes of high bit pairs and 8 int8 scales. */
    private static void q6k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 208);
        for (int half = 0; half < 2; half++, o += 128) {
            long ql = p + 64L * half;
            long qh = p + 128 + 32L * half;
            long sc = p + 192 + 8L * half;
            for (int l = 0; l < 32; l++) {
                int g = l / 16;
                int h = u8(s, qh + l);
                int a = u8(s, ql + l);
                int b = u8(s, ql + l + 32);
                y[o + l] = d * i8(s, sc + g) * (((a & 0xF) | ((h & 3) << 4)) - 32);
                y[o + l + 32] = d * i8(s, sc + g + 2) * (((b & 0xF) | (((h >>> 2) & 3) << 4)) - 32);
                y[o + l + 64] = d * i8(s, sc + g + 4) * (((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32);
                y[o + l + 96] = d * i8(s, sc + g + 6) * (((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32);
            }
        }
    }

    /** IQ4_XS: eight IQ4_NL groups of 32 with six-bit scales biased by 32 (low 4 bits in bytes 4..7, top 2 in a u16). */
    private static void iq4xs(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        int high = s.get(I16, p + 2) & 0xFFFF;
        for (int g = 0; g < 8; g++, o += 32) {
            int ls = ((u8(s, p + 4 + g / 2) >>> (4 * (g % 2))) & 0xF) | (((high >>> (2 * g)) & 3) << 4);
            float dl = d * (ls - 32);
            long q = p + 8 + 16L * g;
            for (int j = 0; j < 16; j++) {
                int v = u8(s, q + j);
                y[o + j] = dl * Q32Matrix.IQ4_LEVELS[v & 0xF];
                y[o + j + 16] = dl * Q32Matrix.IQ4_LEVELS[v >>> 4];
            }
        }
    }
}
