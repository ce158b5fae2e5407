package io.falconmamba.loader;

import java.util.Arrays;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name   the tensor's name
 * @param dtype  its element type
 * @param shape  its dimensions (row-major)
 * @param begin  first byte, relative to the start of the data area (just after the header)
 * @param end    one past the last byte, relative to the data area
 */
public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Bytes the tensor occupies. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && begin == t.begin
                && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
