package io.falconmamba.loader.gguf;

import java.util.Arrays;

/**
 * One tensor of a GGUF file.
 *
 * @param name   the tensor's name
 * @param type   its ggml type
 * @param shape  dimensions, outermost first (row-major, as Hugging Face writes them): the reverse of ggml's
 *               {@code ne}, so {@code shape[rank-1]} is the row length
 * @param offset start of its data, relative to the file's data section
 * @param bytes  size of its data
 */
public record GgufTensorInfo(String name, GgmlType type, long[] shape, long offset, long bytes) {

    public GgufTensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long elements() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Elements per row (the innermost dimension; 1 for a scalar). */
    public long rowLength() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t
                && name.equals(t.name)
                && type == t.type
                && Arrays.equals(shape, t.shape)
                && offset == t.offset
                && bytes == t.bytes;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(shape);
    }
}
