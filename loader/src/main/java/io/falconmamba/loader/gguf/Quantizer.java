package io.falconmamba.loader.gguf;

import io.falconmamba.loader.SafetensorsWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Encoding floats into the ggml types a converter writes, with ggml's reference rounding rules so that files
 * match what llama.cpp's own tools write for the same values: F16 and BF16 round to nearest even; Q8_0 scales by
 * max|x| / 127 and rounds half away from zero; Q4_0 scales by the signed value of largest magnitude / −8 and
 * truncates x/d + 8.5, capped at 15.
 */
public final class Quantizer {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantizer() {}

    /** Whether {@link #quantize} can write the type. */
    public static boolean writable(GgmlType t) {
        return switch (t) {
            case F32, F16, BF16, Q8_0, Q4_0 -> true;
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
            default -> throw new IllegalStateException(type.name());
        }
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
