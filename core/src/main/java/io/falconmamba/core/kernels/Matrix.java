package io.falconmamba.core.kernels;

import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import java.lang.foreign.MemorySegment;

/**
 * A row-major weight matrix {@code rows × cols} read in place (mapped file or off-heap), in one of the
 * {@link WeightType}s. Row {@code r} starts at byte {@code r * cols * type.bytes()}.
 */
public record Matrix(String name, int rows, int cols, WeightType type, MemorySegment data) implements Weight {

    public Matrix {
        long need = (long) rows * cols * type.bytes();
        if (rows < 0 || cols < 0 || data.byteSize() != need) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows + "×" + cols + " " + type);
        }
    }

    /**
     * Views a tensor as a matrix: the first dimension is rows, the rest flatten into columns
     * (so conv1d.weight [d_in, 1, k] is d_in × k).
     */
    public static Matrix of(Tensor t) {
        long[] shape = t.shape();
        if (shape.length < 1) {
            throw new IllegalArgumentException("tensor " + t.name() + " is a scalar, not a matrix");
        }
        long rows = shape[0];
        long cols = 1;
        for (int i = 1; i < shape.length; i++) {
            cols *= shape[i];
        }
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "tensor " + t.name() + " is too large for a matrix: " + rows + "×" + cols);
        }
        return new Matrix(t.name(), (int) rows, (int) cols, t.type(), t.data());
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return (long) cols * type.bytes();
    }

    /** Copies row {@code r} into {@code out[off..off+cols)} as floats (embedding lookup, tile decoding). */
    public void rowToFloats(int r, float[] out, int off) {
        Convert.toFloats(type, data, r * rowBytes(), out, off, cols);
    }
}
