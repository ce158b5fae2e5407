package io.falconmamba.core.kernels;

/**
 * The one place that picks the code path of a product {@code out[t, r] = Σ_c W[r, c] · x[t, c]}: by the number
 * of tokens, and the work's size.
 */
public final class MatrixProduct {

    private MatrixProduct() {}

    /**
     * {@code out[outOff + t·outStride + r] = W[r] · x[xOff + t·xStride ..]} for {@code t < tokens} and every row:
     * one token through {@link Weight#matVec} (decode streams W once, bound by memory bandwidth), fewer than
     * {@link Weight#fewTokens} through {@link Weight#matVecs} (W streamed in place against each group of tokens),
     * more through {@link Weight#matMul} (tiles of W widened once and reused by every token, bound by
     * arithmetic). Small products run on the caller's thread ({@link ThreadPool#forWork}).
     */
    public static void multiply(
            Weight w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        if (tokens <= 0) {
            return;
        }
        pool = pool.forWork((long) w.rows() * w.cols() * tokens);
        if (tokens == 1) {
            w.matVec(x, xOff, out, outOff, pool);
        } else if (tokens < w.fewTokens()) {
            w.matVecs(x, xOff, xStride, tokens, out, outOff, outStride, pool);
        } else {
            w.matMul(x, xOff, xStride, tokens, out, outOff, outStride, pool);
        }
    }
}
