package io.falconmamba.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named weight tensor viewed in place: a row-major, little-endian slice of (usually mapped) memory.
 * Nothing is copied; the tensor is valid as long as the memory it views.
 */
public record Tensor(String name, WeightType type, long[] shape, MemorySegment data) {

    private static final ValueLayout.OfFloat F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    public Tensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
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
        if (data.byteSize() != n * type.bytes()) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.byteSize() + " bytes do not hold shape "
                    + Arrays.toString(shape) + " of " + type);
        }
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
        return switch (type) {
            case F32 -> data.get(F32, i * 4);
            case BF16 -> Float.intBitsToFloat((data.get(I16, i * 2) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(data.get(I16, i * 2));
        };
    }

    /** All elements as a new float array (for the small per-channel vectors: norms, biases, A_log, D). */
    public float[] toFloatArray() {
        long n = size();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor " + name + " has " + n + " elements: too large for a float[]");
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = get(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(shape);
    }
}
