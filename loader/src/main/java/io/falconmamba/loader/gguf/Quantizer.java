package io.falconmamba.loader.gguf;

import io.falconmamba.loader.SafetensorsWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Encoding floats into the ggml types a converter writes, with ggml's reference rounding rules so that files
 * match what llama.cpp's own tools write for the same values: F16 and BF16 round to nearest even; Q8_0 scales by
 * max|x| / 127 and rounds half away from zero; Q4_0 scales by the signed value of largest magnitude / −8 and
 * truncates x/d + 8.5, capped at 15; Q6_K fits each 16 values' scale by weighted least squares as ggml's
 * reference quantizer does.
 */
public final class Quantizer {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantizer() {}

    /** Whether {@link #quantize} can write the type. */
    public static boolean writable(GgmlType t) {
        return switch (t) {
            case F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * Encodes {@code n} values of {@code x} from {@code off} into {@code out} at byte {@code outOffset}.
     *
     * @throws IllegalArgumentException when the type is not {@link #writable} or {@code n} is not whole blocks
     */
    public static void quantize(GgmlType type, float[] x, int off, int n, MemorySegment out, long outOffset) {
        if (!writable(type)) {
            throw new IllegalArgumentException("no encoder for ggml type " + type);
        }
        if (n % type.blockSize() != 0) {
            throw new IllegalArgumentException(n + " values are not whole " + type + " blocks");
        }
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out.set(F32, outOffset + 4L * i, x[off + i]);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out.set(I16, outOffset + 2L * i, Float.floatToFloat16(x[off + i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out.set(I16, outOffset + 2L * i, SafetensorsWriter.toBF16(x[off + i]));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    q8_0(x, off + 32 * b, out, outOffset + 34L * b);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    q4_0(x, off + 32 * b, out, outOffset + 18L * b);
                }
            }
            case Q5_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    q5_0(x, off + 32 * b, out, outOffset + 22L * b);
                }
            }
            case Q4_K -> {
                for (int b = 0; b < n / 256; b++) {
                    q4_k(x, off + 256 * b, out, outOffset + 144L * b);
                }
            }
            case Q6_K -> {
                for (int b = 0; b < n / 256; b++) {
                    q6_k(x, off + 256 * b, out, outOffset + 210L * b);
                }
            }
            default -> throw new IllegalStateException(type.name());
        }
    }

    // Q5_0: as Q4_0 with 5 bits: d = (signed value of largest magnitude) / −16, q = trunc(x/d + 16.5) capped at 31,
    // the fifth bits gathered into a u32.
    private static void q5_0(float[] x, int o, MemorySegment out, long p) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[o + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.set(I16, p, Float.floatToFloat16(d));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(31, (int) (x[o + j] * id + 16.5f));
            int hi = Math.min(31, (int) (x[o + 16 + j] * id + 16.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 6 + j, (byte) ((lo & 0xF) | ((hi & 0xF) << 4)));
            qh |= ((lo & 0x10) >> 4) << j;
            qh |= ((hi & 0x10) >> 4) << (j + 16);
        }
        out.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), p + 2, qh);
    }

    // Q4_K: each 32 values get a scale and a minimum fitted by weighted least squares (ggml's make_qkx2_quants,
    // weights rms(x) + |x|); the 8 scales and 8 minimums are quantized to 6 bits against their largest, and the
    // values re-quantized to 4 bits with the final ones.
    private static void q4_k(float[] x, int o, MemorySegment out, long p) {
        int[] l = new int[256];
        int[] aux = new int[32];
        float[] weights = new float[32];
        float[] mins = new float[8];
        float[] scales = new float[8];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) {
                sumX2 += x[o + 32 * j + i] * x[o + 32 * j + i];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) {
                weights[i] = avX + Math.abs(x[o + 32 * j + i]);
            }
            scales[j] = makeQkx2Quants(32, 15, x, o + 32 * j, weights, l, 32 * j, mins, j, aux, -1f, 0.1f, 20);
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte[] sc = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                sc[j] = (byte) ls;
                sc[j + 4] = (byte) lm;
            } else {
                sc[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte) ((ls >> 4) << 6);
                sc[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dBits = Float.floatToFloat16(maxScale / 63f);
        short mBits = Float.floatToFloat16(maxMin / 63f);
        out.set(I16, p, dBits);
        out.set(I16, p + 2, mBits);
        for (int i = 0; i < 12; i++) {
            out.set(ValueLayout.JAVA_BYTE, p + 4 + i, sc[i]);
        }
        float dAll = Float.float16ToFloat(dBits);
        float mAll = Float.float16ToFloat(mBits);
        for (int j = 0; j < 8; j++) {
            int s;
            int m;
            if (j < 4) {
                s = sc[j] & 63;
                m = sc[j + 4] & 63;
            } else {
                s = (sc[j + 4] & 0xF) | (((sc[j - 4] & 0xFF) >> 6) << 4);
                m = ((sc[j + 4] & 0xFF) >> 4) | (((sc[j] & 0xFF) >> 6) << 4);
            }
            float d = dAll * s;
            if (d == 0) {
                continue;
            }
            float dm = mAll * m;
            for (int i = 0; i < 32; i++) {
                int q = nearestInt((x[o + 32 * j + i] + dm) / d);
                l[32 * j + i] = Math.max(0, Math.min(15, q));
            }
        }
        for (int j = 0; j < 4; j++) {
            for (int i = 0; i < 32; i++) {
                out.set(ValueLayout.JAVA_BYTE, p + 16 + 32L * j + i, (byte)
                        (l[64 * j + i] | (l[64 * j + i + 32] << 4)));
            }
        }
    }

    /**
     * The scale and minimum of {@code n} values quantized to [0, nmax] that minimize the weighted squared error,
     * searched over {@code nstep + 1} grids; levels go to {@code l}, −minimum to {@code mins[mi]}. Float sums in
     * ggml's order, so the choice is ggml's.
     */
    private static float makeQkx2Quants(
            int n,
            int nmax,
            float[] x,
            int o,
            float[] weights,
            int[] l,
            int lo,
            float[] mins,
            int mi,
            int[] aux,
            float rmin,
            float rdelta,
            int nstep) {
        float min = x[o];
        float max = x[o];
        float sumW = weights[0];
        float sumX = sumW * x[o];
        for (int i = 1; i < n; i++) {
            if (x[o + i] < min) {
                min = x[o + i];
            }
            if (x[o + i] > max) {
                max = x[o + i];
            }
            float w = weights[i];
            sumW += w;
            sumX += w * x[o + i];
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                l[lo + i] = 0;
            }
            mins[mi] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int q = nearestInt(iscale * (x[o + i] - min));
            l[lo + i] = Math.max(0, Math.min(nmax, q));
            float diff = scale * l[lo + i] + min - x[o + i];
            bestError += weights[i] * (diff * diff);
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; i++) {
                int q = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[o + i] - min))));
                aux[i] = q;
                float w = weights[i];
                sumL += w * q;
                sumL2 += w * q * q;
                sumXl += w * q * x[o + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[o + i];
                    curError += weights[i] * (diff * diff);
                }
                if (curError < bestError) {
                    for (int i = 0; i < n; i++) {
                        l[lo + i] = aux[i];
                    }
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[mi] = -min;
        return scale;
    }

    /** Below this a group's values count as zero (ggml's GROUP_MAX_EPS). */
    private static final float GROUP_MAX_EPS = 1e-15f;

    // Q6_K: each 16 values get a scale fitted by weighted least squares over 19 candidate grids (ggml's
    // make_qx_quants with weights x²); the 16 scales are then quantized to int8 against the largest, and the
    // values re-quantized to 6 bits with their final scale.
    private static void q6_k(float[] x, int o, MemorySegment out, long p) {
        int[] l = new int[256];
        float[] scales = new float[16];
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float scale = makeQxQuants(16, 32, x, o + 16 * ib, l, 16 * ib);
            scales[ib] = scale;
            if (Math.abs(scale) > maxAbsScale) {
                maxAbsScale = Math.abs(scale);
                maxScale = scale;
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            out.asSlice(p, 210).fill((byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short dBits = Float.floatToFloat16(1 / iscale);
        out.set(I16, p + 208, dBits);
        float d = Float.float16ToFloat(dBits);
        byte[] sc = new byte[16];
        for (int ib = 0; ib < 16; ib++) {
            sc[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            out.set(ValueLayout.JAVA_BYTE, p + 192 + ib, sc[ib]);
        }
        for (int j = 0; j < 16; j++) {
            float dj = d * sc[j];
            if (dj == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ii++) {
                int q = nearestInt(x[o + 16 * j + ii] / dj);
                l[16 * j + ii] = Math.max(-32, Math.min(31, q)) + 32;
            }
        }
        for (int half = 0; half < 2; half++) {
            int j = 128 * half;
            long ql = p + 64L * half;
            long qh = p + 128 + 32L * half;
            for (int i = 0; i < 32; i++) {
                int q1 = l[j + i];
                int q2 = l[j + i + 32];
                int q3 = l[j + i + 64];
                int q4 = l[j + i + 96];
                out.set(ValueLayout.JAVA_BYTE, ql + i, (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4)));
                out.set(ValueLayout.JAVA_BYTE, ql + i + 32, (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4)));
                out.set(ValueLayout.JAVA_BYTE, qh + i, (byte)
                        ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)));
            }
        }
    }

    /**
     * The scale of {@code n} values quantized to [−nmax, nmax−1] that minimizes the x²-weighted squared error
     * over 19 grids around −nmax / (the value of largest magnitude); the chosen levels (offset by nmax) go to
     * {@code l}. Sums are float, in ggml's order, so the choice is ggml's.
     */
    private static float makeQxQuants(int n, int nmax, float[] x, int o, int[] l, int lo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[o + i]);
            if (ax > amax) {
                amax = ax;
                max = x[o + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                l[lo + i] = 0;
            }
            return 0;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            int q = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[o + i])));
            l[lo + i] = q + nmax;
            float w = x[o + i] * x[o + i];
            sumlx += w * x[o + i] * q;
            suml2 += w * q * q;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                int q = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[o + i])));
                float w = x[o + i] * x[o + i];
                sumlx += w * x[o + i] * q;
                suml2 += w * q * q;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    int q = nearestInt(iscale * x[o + i]);
                    l[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, q));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /** ggml's nearest_int: round half to even, for |v| below 2^22. */
    private static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    private static void q8_0(float[] x, int o, MemorySegment out, long p) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[o + j]));
        }
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.set(I16, p, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            out.set(ValueLayout.JAVA_BYTE, p + 2 + j, (byte) roundHalfAway(x[o + j] * id));
        }
    }

    private static void q4_0(float[] x, int o, MemorySegment out, long p) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[o + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.set(I16, p, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) (x[o + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[o + 16 + j] * id + 8.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 2 + j, (byte) (lo | (hi << 4)));
        }
    }

    /** C's roundf: half away from zero. */
    private static int roundHalfAway(float v) {
        return v < 0 ? -Math.round(-v) : Math.round(v);
    }
}
