package io.falconmamba.core.kernels;

/**
 * A weight matrix a projection multiplies by: stored as read ({@link Matrix}), repacked into row tiles
 * ({@link PackedMatrix}) or block-quantized ({@link QuantizedMatrix}).
 */
public sealed interface Weight permits Matrix, PackedMatrix, QuantizedMatrix {

    String name();

    int rows();

    int cols();

    /** Bytes streamed to multiply by it once. */
    long byteSize();
}
