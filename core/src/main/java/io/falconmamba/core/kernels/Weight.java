package io.falconmamba.core.kernels;

/**
 * A {@code rows × cols} weight matrix in one storage {@link Format}, with the products the model needs:
 * {@code out[t, r] = Σ_c W[r, c] · x[t, c]} for one token (decode), a few (batch decode, short chunks) or many
 * (prefill). {@link MatrixProduct#multiply} picks which one a call runs; each class stores its format its own
 * way and overrides the products it has fast kernels for.
 *
 * <p>Only {@link #rowToFloats} is required. The defaults decode rows to floats and multiply those
 * ({@link DecodedRows}, {@link MatMul}): a new format is correct with that one method and gets faster by
 * overriding {@link #matVec}, {@link #matVecs} and {@link #transposedRows}.
 *
 * <p>In every product x of token {@code t} is {@code x[xOff + t·xStride .. + cols)} and its outputs go to
 * {@code out[outOff + t·outStride .. + rows)}; the work is split over {@code pool}'s threads.
 */
public interface Weight {

    String name();

    int rows();

    int cols();

    Format format();

    /** Bytes streamed to multiply by it once. */
    long byteSize();

    /** Row {@code r} as floats into {@code out[off .. off+cols)}: the values the products multiply by. */
    void rowToFloats(int r, float[] out, int off);

    /** Matrix × vector: {@code out[outOff + r] = W[r] · x[xOff ..]} for every row. */
    default void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        DecodedRows.multiply(this, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    /**
     * Below this many tokens {@link #matVecs} is faster than the transposed tiles of {@link #matMul}; from it on
     * {@link MatrixProduct} calls {@code matMul}. At least 2.
     */
    default int fewTokens() {
        return 2;
    }

    /** Matrix × a few vectors, {@code 2 ≤ tokens < fewTokens()}. */
    default void matVecs(
            float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
        DecodedRows.multiply(this, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /** Matrix × many vectors: {@link MatMul}'s transposed float tiles, filled by {@link #transposedRows}. */
    default void matMul(
            float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
        MatMul.multiply(this, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /**
     * Rows {@code [r0, r0+count)} as floats, transposed, for {@link MatMul}: row {@code r0+i}'s column {@code c} at
     * {@code tile[c·width + i]}, and zeros for {@code count ≤ i < width}. Called from the pool's threads at once.
     */
    default void transposedRows(int r0, int count, float[] tile, int width) {
        DecodedRows.transposed(this, r0, count, tile, width);
    }
}
