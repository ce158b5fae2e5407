package io.falconmamba.core.kernels;

import io.falconmamba.core.Quantization;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.falconmamba.core.kernels.Convert.I16;

/**
 * A row-major {@code rows × cols} matrix in llama.cpp's Q8_0 or Q4_0 blocks (see {@link Quantization}), held
 * off-heap. Row {@code r} is {@code cols / 32} consecutive blocks starting at byte {@code r * rowBytes()}; each
 * block starts with its little-endian IEEE half scale.
 */
public record QuantizedMatrix(String name, int rows, int cols, Quantization type, MemorySegment data) implements Weight {

    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    public QuantizedMatrix {
        if (type == Quantization.NONE) {
            throw new IllegalArgumentException("matrix " + name + ": NONE is not a block format");
        }
        if (rows < 0 || cols < 0 || cols % Quantization.BLOCK != 0) {
            throw new IllegalArgumentException("matrix " + name + ": " + rows + "×" + cols + " does not split into blocks of "
                    + Quantization.BLOCK);
        }
        long need = (long) rows * (cols / Quantization.BLOCK) * type.blockBytes();
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold "
                    + rows + "×" + cols + " " + type);
        }
    }

    /** Whether a matrix of {@code cols} columns can be quantized (whole blocks per row). */
    public static boolean quantizable(int cols) {
        return cols > 0 && cols % Quantization.BLOCK == 0;
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return (long) (cols / Quantization.BLOCK) * type.blockBytes();
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /**
     * Quantizes {@code src} into a segment of {@code arena}, rows split across {@code pool}. The source is read
     * as floats (F32, F16 or BF16 widened exactly), then each block is quantized as llama.cpp's reference does.
     */
    public static QuantizedMatrix quantize(Matrix src, Quantization type, Arena arena, ThreadPool pool) {
        if (!quantizable(src.cols())) {
            throw new IllegalArgumentException("matrix " + src.name() + ": " + src.cols() + " columns are not a multiple of "
                    + Quantization.BLOCK);
        }
        int rows = src.rows();
        int cols = src.cols();
        long rowBytes = (long) (cols / Quantization.BLOCK) * type.blockBytes();
        MemorySegment data = arena.allocate(Math.max(1, rows * rowBytes), 64).asSlice(0, rows * rowBytes);
        pool.parallelFor(rows, (from, to) -> {
            float[] row = new float[cols];
            for (int r = from; r < to; r++) {
                src.rowToFloats(r, row, 0);
                quantizeRow(type, row, 0, cols, data, r * rowBytes);
            }
        });
        return new QuantizedMatrix(src.name(), rows, cols, type, data);
    }

    /** Quantizes {@code x[off .. off+n)} ({@code n} a multiple of 32) into blocks at {@code dst[base ..)}. */
    public static void quantizeRow(Quantization type, float[] x, int off, int n, MemorySegment dst, long base) {
        switch (type) {
            case Q8_0 -> quantizeRowQ8(x, off, n, dst, base);
            case Q4_0 -> quantizeRowQ4(x, off, n, dst, base);
            case NONE -> throw new IllegalArgumentException("NONE is not a block format");
        }
    }

    /** llama.cpp {@code quantize_row_q8_0_ref}: {@code d = amax/127}, {@code q = roundf(x · (1/d))}. */
    static void quantizeRowQ8(float[] x, int off, int n, MemorySegment dst, long base) {
        for (int b = 0; b < n / Quantization.BLOCK; b++) {
            int o = off + b * Quantization.BLOCK;
            long at = base + (long) b * Quantization.Q8_0.blockBytes();
            float amax = 0f;
            for (int j = 0; j < Quantization.BLOCK; j++) {
                amax = Math.max(amax, Math.abs(x[o + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(I16, at, Float.floatToFloat16(d));
            for (int j = 0; j < Quantization.BLOCK; j++) {
                dst.set(I8, at + 2 + j, (byte) roundHalfAway(x[o + j] * id));
            }
        }
    }

    /**
     * llama.cpp {@code quantize_row_q4_0_ref}: {@code m} the first value of largest magnitude, {@code d = m / -8},
     * {@code q = min(15, (int8) (x · (1/d) + 8.5f))}; byte {@code j} = {@code q[j] | q[j+16] << 4}.
     */
    static void quantizeRowQ4(float[] x, int off, int n, MemorySegment dst, long base) {
        int half = Quantization.BLOCK / 2;
        for (int b = 0; b < n / Quantization.BLOCK; b++) {
            int o = off + b * Quantization.BLOCK;
            long at = base + (long) b * Quantization.Q4_0.blockBytes();
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < Quantization.BLOCK; j++) {
                float v = x[o + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(I16, at, Float.floatToFloat16(d));
            for (int j = 0; j < half; j++) {
                int q0 = Math.min(15, (byte) (int) (x[o + j] * id + 8.5f));
                int q1 = Math.min(15, (byte) (int) (x[o + half + j] * id + 8.5f));
                dst.set(I8, at + 2 + j, (byte) (q0 | (q1 << 4)));
            }
        }
    }

    /** C's {@code roundf}: to nearest, halves away from zero (Java's {@code Math.round} rounds halves up). */
    static int roundHalfAway(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    /** The scale of block {@code b} of row {@code r}. */
    public float scale(int r, int b) {
        return Float.float16ToFloat(data.get(I16, r * rowBytes() + (long) b * type.blockBytes()));
    }

    /** The quant of element {@code c} of row {@code r}: the int8 for Q8_0, the nibble 0..15 for Q4_0. */
    public int quant(int r, int c) {
        long at = r * rowBytes() + (long) (c / Quantization.BLOCK) * type.blockBytes() + 2;
        int j = c % Quantization.BLOCK;
        return switch (type) {
            case Q8_0 -> data.get(I8, at + j);
            case Q4_0 -> {
                int byt = data.get(I8, at + (j % 16)) & 0xFF;
                yield j < 16 ? byt & 0xF : byt >>> 4;
            }
            case NONE -> throw new IllegalStateException();
        };
    }

    /** Row {@code r} dequantized ({@code q·d}, or {@code (q-8)·d}) into {@code out[off .. off+cols)}. */
    public void rowToFloats(int r, float[] out, int off) {
        QMatMul.dequantizeRow(this, r, out, off);
    }
}
