package io.falconmamba.core.kernels;

/**
 * A weight stored in tiles of one float vector's lanes of rows ({@link PackedMatrix}, {@link QuantizedMatrix}),
 * which {@link MatMul} widens a tile at a time into its transposed float tiles.
 */
interface RowTiles {

    /** Tiles of {@code F.length()} rows; the last one padded with zero rows. */
    int tiles();

    /**
     * The tile's rows as floats into {@code out}, transposed: column {@code c} at {@code out[c·stride + lane ..]},
     * one vector's lanes, padding rows as zeros.
     */
    void tileToFloats(int tile, float[] out, int lane, int stride);
}
