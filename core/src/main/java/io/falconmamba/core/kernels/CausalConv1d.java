package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;

/**
 * The mixer's depthwise causal conv1d over time, per channel {@code c}:
 * {@code out[t, c] = bias[c] + Σ_j w[j, c] · in[t - (k-1) + j, c]}, where inputs before the first token of
 * this call come from the window that the previous call left behind.
 *
 * <p>Layouts are time-major so every step vectorises across channels: the kernel {@code w} is
 * {@code k × dIn} (row j multiplies the input j steps back from the oldest), the window is
 * {@code (k-1) × dIn}, oldest row first.
 */
public final class CausalConv1d {

    private CausalConv1d() {}

    /**
     * Convolves T inputs {@code x[xOff + t*xStride + c]} for channels {@code [from, to)} into
     * {@code out[outOff + t*outStride + c]}, then slides the window over those inputs.
     *
     * @param bias per-channel bias, or {@code null}
     */
    public static void apply(
            float[] window,
            float[] w,
            float[] bias,
            int k,
            int dIn,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            int from,
            int to) {
        int hist = k - 1;
        for (int t = 0; t < tokens; t++) {
            int o = outOff + t * outStride;
            int c = from;
            for (int bound = from + F.loopBound(to - from); c < bound; c += F.length()) {
                FloatVector acc = bias == null ? FloatVector.zero(F) : FloatVector.fromArray(F, bias, c);
                for (int j = 0; j < k; j++) {
                    int back = t - hist + j; // input time relative to this call's first token
                    FloatVector in = back >= 0
                            ? FloatVector.fromArray(F, x, xOff + back * xStride + c)
                            : FloatVector.fromArray(F, window, (hist + back) * dIn + c);
                    acc = FloatVector.fromArray(F, w, j * dIn + c).fma(in, acc);
                }
                acc.intoArray(out, o + c);
            }
            for (; c < to; c++) {
                float acc = bias == null ? 0f : bias[c];
                for (int j = 0; j < k; j++) {
                    int back = t - hist + j;
                    float in = back >= 0 ? x[xOff + back * xStride + c] : window[(hist + back) * dIn + c];
                    acc += w[j * dIn + c] * in;
                }
                out[o + c] = acc;
            }
        }
        slide(window, hist, dIn, x, xOff, xStride, tokens, from, to);
    }

    /** The window keeps the last k-1 inputs: older rows move up, the newest inputs fill the bottom. */
    private static void slide(
            float[] window, int hist, int dIn, float[] x, int xOff, int xStride, int tokens, int from, int to) {
        int len = to - from;
        int keep = Math.max(0, hist - tokens);
        for (int j = 0; j < keep; j++) {
            System.arraycopy(window, (j + tokens) * dIn + from, window, j * dIn + from, len);
        }
        for (int j = keep; j < hist; j++) {
            int t = tokens - hist + j;
            System.arraycopy(x, xOff + t * xStride + from, window, j * dIn + from, len);
        }
    }
}
