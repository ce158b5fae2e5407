package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import java.util.Arrays;

/**
 * A weight stored in tiles of one float vector's lanes of rows ({@link PackedMatrix}, {@link QuantizedMatrix}),
 * which {@link MatMul} widens a tile at a time into its transposed float tiles.
 */
interface RowTiles extends Weight {

    /** Tiles of {@code F.length()} rows; the last one padded with zero rows. */
    int tiles();

    /**
     * The tile's rows as floats into {@code out}, transposed: column {@code c} at {@code out[c·stride + lane ..]},
     * one vector's lanes, padding rows as zeros.
     */
    void tileToFloats(int tile, float[] out, int lane, int stride);

    /**
     * {@link #tileToFloats} one row at a time through {@link #rowToFloats}: for vector widths the tile kernels do not
     * cover.
     */
    default void tileByRows(int tile, float[] out, int lane, int stride) {
        int l = F.length();
        float[] row = new float[cols()];
        for (int i = 0; i < l; i++) {
            int r = tile * l + i;
            if (r < rows()) {
                rowToFloats(r, row, 0);
            } else {
                Arrays.fill(row, 0f);
            }
            for (int c = 0; c < cols(); c++) {
                out[c * stride + lane + i] = row[c];
            }
        }
    }

    /** Two stored tiles are MatMul's tile of two vectors of rows, already by column (padding rows zero). */
    @Override
    default void transposedRows(int r0, int count, float[] tile, int width) {
        int l = F.length();
        if (width != 2 * l || r0 % l != 0) {
            DecodedRows.transposed(this, r0, count, tile, width);
            return;
        }
        int first = r0 / l;
        tileToFloats(first, tile, 0, width);
        if (first + 1 < tiles()) {
            tileToFloats(first + 1, tile, l, width);
        } else {
            for (int c = 0; c < cols(); c++) {
                Arrays.fill(tile, c * width + l, (c + 1) * width, 0f);
            }
        }
    }
}
