package io.falconmamba.core;

import io.falconmamba.core.kernels.BlockMatrix;
import io.falconmamba.core.kernels.Format;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named weight tensor viewed in place: a row-major, little-endian slice of (usually mapped) memory.
 * Nothing is copied; the tensor is valid as long as the memory it views.
 *
 * <p>Its {@link Format} is an element type (F32, F16, BF16: the element types of {@link WeightType}) or one of
 * llama.cpp's block formats, whose rows (the last dimension) are whole blocks stored as ggml stores them.
 */
public record Tensor(String name, Format format, long[] shape, MemorySegment data) {

    private static final ValueLayout.OfFloat F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    public Tensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(data, "data");
        shape = shape.clone();
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor " + name + ": negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        long cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        if (!format.fits(cols)) {
            throw new IllegalArgumentException("tensor " + name + ": rows of " + cols + " do not split into " + format
                    + " blocks of " + format.blockSize());
        }
        long bytes = cols == 0 ? 0 : Math.multiplyExact(n / cols, format.rowBytes(cols));
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.byteSize() + " bytes do not hold shape "
                    + Arrays.toString(shape) + " of " + format);
        }
    }

    /** A tensor of an element type. */
    public Tensor(String name, WeightType type, long[] shape, MemorySegment data) {
        this(name, Objects.requireNonNull(type, "type").format(), shape, data);
    }

    /**
     * The element type.
     *
     * @throws IllegalStateException naming the tensor when it is in a block format
     */
    public WeightType type() {
        return switch (format) {
            case F32 -> WeightType.F32;
            case F16 -> WeightType.F16;
            case BF16 -> WeightType.BF16;
            default ->
                throw new IllegalStateException("tensor " + name + " is in " + format + " blocks, not an element type");
        };
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements. */
    public long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Element {@code i} (flat, row-major) as a float. Slow path: tests, loading small vectors. */
    public float get(long i) {
        return switch (format) {
            case F32 -> data.get(F32, i * 4);
            case BF16 -> Float.intBitsToFloat((data.get(I16, i * 2) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(data.get(I16, i * 2));
            default -> {
                int cols = (int) shape[shape.length - 1];
                float[] row = new float[cols];
                blocks().rowToFloats((int) (i / cols), row, 0);
                yield row[(int) (i % cols)];
            }
        };
    }

    /**
     * Elements {@code [from, to)} as floats into {@code out[0 ..)}: for a block format each block they touch is
     * decoded once (where {@link #get} decodes a whole row per element).
     */
    public void get(long from, long to, float[] out) {
        if (from < 0 || to > size() || from > to || out.length < to - from) {
            throw new IndexOutOfBoundsException(
                    "tensor " + name + ": elements [" + from + ", " + to + ") of " + size() + " into " + out.length);
        }
        if (!format.blocked()) {
            for (long i = from; i < to; i++) {
                out[(int) (i - from)] = get(i);
            }
            return;
        }
        BlockMatrix m = blocks();
        int cols = m.cols();
        int bs = format.blockSize();
        float[] block = new float[bs];
        long decoded = -1; // flat index of the decoded block's first element
        for (long i = from; i < to; i++) {
            long start = i - i % bs; // rows hold whole blocks, so a block never crosses a row
            if (start != decoded) {
                m.blockToFloats((int) (start / cols), (int) (start % cols) / bs, block, 0);
                decoded = start;
            }
            out[(int) (i - from)] = block[(int) (i - start)];
        }
    }

    /** A block-format tensor as the matrix of its rows (the last dimension) over the others. */
    private BlockMatrix blocks() {
        long cols = shape[shape.length - 1];
        long rows = size() / cols;
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor " + name + " is too large to decode: " + rows + "×" + cols);
        }
        return BlockMatrix.of(name, (int) rows, (int) cols, format, data);
    }

    /** All elements as a new float array (for the small per-channel vectors: norms, biases, A_log, D). */
    public float[] toFloatArray() {
        long n = size();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor " + name + " has " + n + " elements: too large for a float[]");
        }
        float[] out = new float[(int) n];
        if (format.blocked()) {
            BlockMatrix m = blocks();
            for (int r = 0; r < m.rows(); r++) {
                m.rowToFloats(r, out, r * m.cols());
            }
            return out;
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = get(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + format + Arrays.toString(shape);
    }
}
