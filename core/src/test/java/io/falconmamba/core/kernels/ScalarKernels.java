package io.falconmamba.core.kernels;

/** Plain scalar twins of the Vector API kernels, in double precision, used only to check them. */
final class ScalarKernels {

    private ScalarKernels() {}

    static float[] matVec(float[][] w, float[] x) {
        float[] out = new float[w.length];
        for (int r = 0; r < w.length; r++) {
            double s = 0;
            for (int c = 0; c < x.length; c++) {
                s += (double) w[r][c] * x[c];
            }
            out[r] = (float) s;
        }
        return out;
    }

    static float[] rmsNorm(float[] x, float[] weight, float eps) {
        double ss = 0;
        for (float v : x) {
            ss += (double) v * v;
        }
        double scale = 1.0 / Math.sqrt(ss / x.length + eps);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] * scale * (weight == null ? 1.0 : weight[i]));
        }
        return out;
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /** torch.nn.functional.softplus with beta 1, threshold 20. */
    static double softplus(double x) {
        return x > 20 ? x : Math.log1p(Math.exp(x));
    }

    /**
     * Causal depthwise conv over T new inputs {@code x[t][c]} given the previous {@code k-1} inputs
     * {@code history[j][c]} (oldest first); {@code w[c][j]} as conv1d.weight[c, 0, j].
     */
    static float[][] conv(float[][] history, float[][] x, float[][] w, float[] bias) {
        int k = w[0].length;
        int hist = k - 1;
        int dIn = w.length;
        int tokens = x.length;
        float[][] all = new float[hist + tokens][];
        System.arraycopy(history, 0, all, 0, hist);
        System.arraycopy(x, 0, all, hist, tokens);
        float[][] out = new float[tokens][dIn];
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < dIn; c++) {
                double s = bias == null ? 0 : bias[c];
                for (int j = 0; j < k; j++) {
                    s += (double) w[c][j] * all[t + j][c];
                }
                out[t][c] = (float) s;
            }
        }
        return out;
    }

    /** One scan step for every channel; {@code state[i][n]} updated in place; returns y. */
    static float[] scanStep(float[][] state, float[][] a, float[] delta, float[] x, float[] b, float[] c, float[] d) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            double yi = (double) d[i] * x[i];
            for (int n = 0; n < b.length; n++) {
                double s = Math.exp((double) delta[i] * a[i][n]) * state[i][n] + (double) delta[i] * b[n] * x[i];
                state[i][n] = (float) s;
                yi += c[n] * s;
            }
            y[i] = (float) yi;
        }
        return y;
    }
}
