package io.falconmamba.loader.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar reference decoding of ggml's block types into floats: plain loops over the block layouts, written for
 * clarity, not speed. They are the oracle the engine's matrix kernels are tested against and what {@code info}
 * and conversions use; the engine never decodes a whole model through them.
 *
 * <p>Each value is computed in float32 in the order ggml does it (scale first, then scale × quant, then the
 * minimum subtracted or added), so results are bit-identical to ggml's own dequantization.
 */
public final class Dequantizer {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The 16 non-uniform levels of IQ4_NL and IQ4_XS. */
    private static final int[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private Dequantizer() {}

    /**
     * Decodes {@code n} consecutive values of type {@code type} starting at byte {@code offset} of {@code data}
     * into {@code out[outOffset ..]}. {@code n} must be a whole number of blocks.
     *
     * @throws IllegalArgumentException when the type is not {@link GgmlType#readable()} or {@code n} is not a
     *     whole number of blocks
     */
    public static void dequantize(GgmlType type, MemorySegment data, long offset, float[] out, int outOffset, int n) {
        if (n % type.blockSize() != 0) {
            throw new IllegalArgumentException(n + " values of " + type + " are not whole blocks");
        }
        int blocks = n / type.blockSize();
        long bb = type.blockBytes();
        for (int b = 0; b < blocks; b++) {
            long p = offset + b * bb;
            int o = outOffset + b * type.blockSize();
            switch (type) {
                case F32 -> out[o] = data.get(F32, p);
                case F16 -> out[o] = Float.float16ToFloat(data.get(I16, p));
                case BF16 -> out[o] = Float.intBitsToFloat((data.get(I16, p) & 0xFFFF) << 16);
                case Q8_0 -> q8_0(data, p, out, o);
                case Q4_0 -> q4_0(data, p, out, o);
                case Q4_1 -> q4_1(data, p, out, o);
                case Q5_0 -> q5_0(data, p, out, o);
                case Q5_1 -> q5_1(data, p, out, o);
                case Q2_K -> q2_k(data, p, out, o);
                case Q3_K -> q3_k(data, p, out, o);
                case Q4_K -> q4_k(data, p, out, o);
                case Q5_K -> q5_k(data, p, out, o);
                case Q6_K -> q6_k(data, p, out, o);
                case IQ4_NL -> iq4_nl(data, p, out, o);
                case IQ4_XS -> iq4_xs(data, p, out, o);
                default -> throw new IllegalArgumentException("no decoder for ggml type " + type);
            }
        }
    }

    /** Row {@code row} of a row-major matrix with {@code cols} values per row, decoded into a new array. */
    public static float[] row(GgmlType type, MemorySegment data, long row, int cols) {
        float[] out = new float[cols];
        dequantize(type, data, row * type.bytesFor(cols), out, 0, cols);
        return out;
    }

    private static float f16(MemorySegment s, long p) {
        return Float.float16ToFloat(s.get(I16, p));
    }

    private static int u8(MemorySegment s, long p) {
        return s.get(ValueLayout.JAVA_BYTE, p) & 0xFF;
    }

    private static int i8(MemorySegment s, long p) {
        return s.get(ValueLayout.JAVA_BYTE, p);
    }

    // Q8_0: d (f16), 32 × int8. x = d·q
    private static void q8_0(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        for (int j = 0; j < 32; j++) {
            y[o + j] = i8(s, p + 2 + j) * d;
        }
    }

    // Q4_0: d (f16), 16 bytes of nibbles; low nibbles are values 0..15, high nibbles 16..31. x = d·(q − 8)
    private static void q4_0(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, p + 2 + j);
            y[o + j] = ((q & 0xF) - 8) * d;
            y[o + j + 16] = ((q >> 4) - 8) * d;
        }
    }

    // Q4_1: d, m (f16), 16 bytes of nibbles. x = d·q + m
    private static void q4_1(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float m = f16(s, p + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, p + 4 + j);
            y[o + j] = (q & 0xF) * d + m;
            y[o + j + 16] = (q >> 4) * d + m;
        }
    }

    // Q5_0: d (f16), 32 fifth bits (u32, bit j for value j), 16 bytes of nibbles. x = d·(q − 16)
    private static void q5_0(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        int qh = s.get(I32, p + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, p + 6 + j);
            int lo = (q & 0xF) | (((qh >>> j) & 1) << 4);
            int hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
            y[o + j] = (lo - 16) * d;
            y[o + j + 16] = (hi - 16) * d;
        }
    }

    // Q5_1: d, m (f16), 32 fifth bits, 16 bytes of nibbles. x = d·q + m
    private static void q5_1(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float m = f16(s, p + 2);
        int qh = s.get(I32, p + 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, p + 8 + j);
            int lo = (q & 0xF) | (((qh >>> j) & 1) << 4);
            int hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
            y[o + j] = lo * d + m;
            y[o + j + 16] = hi * d + m;
        }
    }

    // Q2_K: 16 scale bytes (low nibble scale, high nibble min, one per 16 values), 64 bytes of 2-bit quants,
    // d and dmin (f16). Each 128-value half reads 32 quant bytes four times, two bits further each time.
    private static void q2_k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 80);
        float dmin = f16(s, p + 82);
        int is = 0;
        int out = o;
        for (int half = 0; half < 2; half++) {
            long q = p + 16 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int g = 0; g < 2; g++) {
                    int sc = u8(s, p + is++);
                    float dl = d * (sc & 0xF);
                    float ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        y[out++] = dl * ((u8(s, q + 16 * g + l) >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    // Q3_K: 32 bytes of high bits (hmask), 64 bytes of 2-bit low quants, 12 bytes packing 16 six-bit scales,
    // d (f16). A value is low 2 bits minus 4 when its hmask bit is clear; scales are stored biased by 32.
    private static void q3_k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 108);
        long hm = p;
        long sc = p + 96;
        int is = 0;
        int m = 1;
        int out = o;
        for (int half = 0; half < 2; half++) {
            long q = p + 32 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int g = 0; g < 2; g++) {
                    float dl = d * (q3kScale(s, sc, is++) - 32);
                    for (int l = 0; l < 16; l++) {
                        int k = 16 * g + l;
                        int low = (u8(s, q + k) >> shift) & 3;
                        int high = (u8(s, hm + k) & m) != 0 ? 0 : 4;
                        y[out++] = dl * (low - high);
                    }
                }
                m <<= 1;
            }
        }
    }

    /** Scale j of Q3_K: low 4 bits from byte j (or the high nibble of byte j−8), top 2 bits from bytes 8..11. */
    private static int q3kScale(MemorySegment s, long sc, int j) {
        int low = j < 8 ? u8(s, sc + j) & 0xF : u8(s, sc + j - 8) >> 4;
        int high = (u8(s, sc + 8 + (j & 3)) >> (2 * (j >> 2))) & 3;
        return low | (high << 4);
    }

    /** Six-bit scale (k = 0) or min (k = 1) number j of the 12-byte K-quant scale area at {@code sc}. */
    private static int k4Scale(MemorySegment s, long sc, int j, int k) {
        if (j < 4) {
            return u8(s, sc + j + 4 * k) & 63;
        }
        int packed = u8(s, sc + j + 4);
        int top = u8(s, sc + j - 4 + 4 * k) >> 6;
        return (k == 0 ? packed & 0xF : packed >> 4) | (top << 4);
    }

    // Q4_K: d, dmin (f16), 12 bytes of 8 six-bit scales and mins, 128 bytes of nibbles. Each 64 values read 32
    // bytes: low nibbles with scale 2i, high nibbles with scale 2i+1. x = d·sc·q − dmin·m
    private static void q4_k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float dmin = f16(s, p + 2);
        long sc = p + 4;
        int out = o;
        for (int i = 0; i < 4; i++) {
            long q = p + 16 + 32L * i;
            float d1 = d * k4Scale(s, sc, 2 * i, 0);
            float m1 = dmin * k4Scale(s, sc, 2 * i, 1);
            float d2 = d * k4Scale(s, sc, 2 * i + 1, 0);
            float m2 = dmin * k4Scale(s, sc, 2 * i + 1, 1);
            for (int l = 0; l < 32; l++) {
                y[out + l] = d1 * (u8(s, q + l) & 0xF) - m1;
                y[out + 32 + l] = d2 * (u8(s, q + l) >> 4) - m2;
            }
            out += 64;
        }
    }

    // Q5_K: as Q4_K with 32 bytes of fifth bits (qh) after the scales: bit 2i of qh[l] tops value l of the low
    // nibbles of group i, bit 2i+1 the high nibbles.
    private static void q5_k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        float dmin = f16(s, p + 2);
        long sc = p + 4;
        long qh = p + 16;
        int out = o;
        for (int i = 0; i < 4; i++) {
            long q = p + 48 + 32L * i;
            float d1 = d * k4Scale(s, sc, 2 * i, 0);
            float m1 = dmin * k4Scale(s, sc, 2 * i, 1);
            float d2 = d * k4Scale(s, sc, 2 * i + 1, 0);
            float m2 = dmin * k4Scale(s, sc, 2 * i + 1, 1);
            for (int l = 0; l < 32; l++) {
                int h = u8(s, qh + l);
                int lo = (u8(s, q + l) & 0xF) | (((h >> (2 * i)) & 1) << 4);
                int hi = (u8(s, q + l) >> 4) | (((h >> (2 * i + 1)) & 1) << 4);
                y[out + l] = d1 * lo - m1;
                y[out + 32 + l] = d2 * hi - m2;
            }
            out += 64;
        }
    }

    // Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, d (f16). Each 128-value half
    // reads 64 low bytes and 32 high bytes; x = d·sc·(q − 32).
    private static void q6_k(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p + 208);
        for (int half = 0; half < 2; half++) {
            long ql = p + 64L * half;
            long qh = p + 128 + 32L * half;
            long sc = p + 192 + 8L * half;
            int out = o + 128 * half;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = u8(s, qh + l);
                int a = u8(s, ql + l);
                int b = u8(s, ql + l + 32);
                int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((b & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((a >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((b >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[out + l] = d * i8(s, sc + is) * q1;
                y[out + l + 32] = d * i8(s, sc + is + 2) * q2;
                y[out + l + 64] = d * i8(s, sc + is + 4) * q3;
                y[out + l + 96] = d * i8(s, sc + is + 6) * q4;
            }
        }
    }

    // IQ4_NL: d (f16), 16 bytes of nibbles indexing the non-uniform levels. x = d·level
    private static void iq4_nl(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, p + 2 + j);
            y[o + j] = d * IQ4_LEVELS[q & 0xF];
            y[o + j + 16] = d * IQ4_LEVELS[q >> 4];
        }
    }

    // IQ4_XS: d (f16), the top 2 bits of 8 six-bit scales (u16), their low 4 bits (4 bytes), 128 bytes of
    // nibbles; each 32 values are an IQ4_NL block with scale d·(ls − 32).
    private static void iq4_xs(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        int scalesH = s.get(I16, p + 2) & 0xFFFF;
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((u8(s, p + 4 + ib / 2) >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
            float dl = d * (ls - 32);
            long q = p + 8 + 16L * ib;
            int out = o + 32 * ib;
            for (int j = 0; j < 16; j++) {
                int v = u8(s, q + j);
                y[out + j] = dl * IQ4_LEVELS[v & 0xF];
                y[out + j + 16] = dl * IQ4_LEVELS[v >> 4];
            }
        }
    }
}
