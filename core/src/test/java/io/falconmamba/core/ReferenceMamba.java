package io.falconmamba.core;

/**
 * The model's definition, plainly: a Falcon Mamba / Mamba-1 forward pass in double precision, one token at a
 * time, in the nine steps of a block, with nothing fused, tiled, vectorised or quantized. Read it first; the
 * engine ({@link FalconMambaModel}, {@link MambaBlock}) computes the same thing fast, and is tested against it
 * (and it against Hugging Face transformers' float64 outputs) in {@link ReferenceMambaTest}.
 *
 * <p>Names follow the Mamba paper: x and z the two halves of in_proj's output, Δ (delta) the step size,
 * A the state matrix ({@code -exp(A_log)}), B and C the input and output projections of the state, D the skip.
 */
final class ReferenceMamba {

    private final MambaConfig c;
    private final WeightSource w;
    /** Per layer: the last {@code convKernel - 1} conv inputs (oldest first), and the state {@code s[i][n]}. */
    private final double[][][] convWindow;

    private final double[][][] state;

    ReferenceMamba(MambaConfig c, WeightSource w) {
        this.c = c;
        this.w = w;
        convWindow = new double[c.numLayers()][c.convKernel() - 1][c.intermediateSize()];
        state = new double[c.numLayers()][c.intermediateSize()][c.stateSize()];
    }

    /** The logits after each token of {@code ids}, fed one by one from this reference's current state. */
    double[][] logits(int[] ids) {
        double[][] out = new double[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            out[t] = step(ids[t]);
        }
        return out;
    }

    /** One token: embedding, every block, the final norm, the output projection. */
    double[] step(int token) {
        int dm = c.hiddenSize();
        double[] h = row("backbone.embeddings.weight", token, dm);
        for (int l = 0; l < c.numLayers(); l++) {
            h = add(h, block(l, h));
        }
        double[] normed = rmsNorm(h, vector("backbone.norm_f.weight", dm), c.layerNormEpsilon());
        String head = c.tieWordEmbeddings() ? "backbone.embeddings.weight" : "lm_head.weight";
        return matVec(head, c.vocabSize(), dm, normed);
    }

    /** Block {@code l}'s output for hidden state {@code h}, to be added to h (the residual). */
    private double[] block(int l, double[] h) {
        String p = "backbone.layers." + l + ".";
        String m = p + "mixer.";
        int dm = c.hiddenSize();
        int dIn = c.intermediateSize();
        int n = c.stateSize();
        int r = c.timeStepRank();
        int k = c.convKernel();

        // 1. u = RMSNorm(h) · norm.weight
        double[] u = rmsNorm(h, vector(p + "norm.weight", dm), c.layerNormEpsilon());

        // 2. [x | z] = in_proj · u (+ bias)
        double[] xz = matVec(m + "in_proj.weight", 2 * dIn, dm, u);
        addBias(xz, m + "in_proj.bias", c.useBias());
        double[] x = java.util.Arrays.copyOfRange(xz, 0, dIn);
        double[] z = java.util.Arrays.copyOfRange(xz, dIn, 2 * dIn);

        // 3. x = SiLU(causal depthwise conv1d over the last k inputs of each channel (+ bias))
        double[][] window = convWindow[l];
        double[] conv = new double[dIn];
        double[][] kernel = rows(m + "conv1d.weight", dIn, k);
        for (int i = 0; i < dIn; i++) {
            double s = c.useConvBias() ? vector(m + "conv1d.bias", dIn)[i] : 0;
            for (int j = 0; j < k - 1; j++) {
                s += kernel[i][j] * window[j][i];
            }
            s += kernel[i][k - 1] * x[i];
            conv[i] = silu(s);
        }
        for (int j = 0; j + 1 < k - 1; j++) {
            window[j] = window[j + 1];
        }
        if (k > 1) {
            window[k - 2] = x;
        }
        x = conv;

        // 4. [dt | B | C] = x_proj · x
        double[] dtBC = matVec(m + "x_proj.weight", r + 2 * n, dIn, x);
        double[] dt = java.util.Arrays.copyOfRange(dtBC, 0, r);
        double[] b = java.util.Arrays.copyOfRange(dtBC, r, r + n);
        double[] cc = java.util.Arrays.copyOfRange(dtBC, r + n, r + 2 * n);

        // 5. Falcon Mamba only: dt, B and C each RMS-normalised, without a weight
        if (c.architecture() == Architecture.FALCON_MAMBA) {
            dt = rmsNorm(dt, null, c.mixerRmsEps());
            b = rmsNorm(b, null, c.mixerRmsEps());
            cc = rmsNorm(cc, null, c.mixerRmsEps());
        }

        // 6. Δ = softplus(dt_proj · dt + dt_proj.bias)
        double[] delta = matVec(m + "dt_proj.weight", dIn, r, dt);
        double[] dtBias = vector(m + "dt_proj.bias", dIn);
        for (int i = 0; i < dIn; i++) {
            delta[i] = softplus(delta[i] + dtBias[i]);
        }

        // 7. the selective scan, per channel i and state n: s = exp(Δ·A)·s + Δ·B·x
        // 8. y = C·s + D·x, gated: y = y · SiLU(z)
        double[][] a = rows(m + "A_log", dIn, n);
        double[] d = vector(m + "D", dIn);
        double[][] s = state[l];
        double[] y = new double[dIn];
        for (int i = 0; i < dIn; i++) {
            double yi = d[i] * x[i];
            for (int j = 0; j < n; j++) {
                double aij = -Math.exp(a[i][j]);
                s[i][j] = Math.exp(delta[i] * aij) * s[i][j] + delta[i] * b[j] * x[i];
                yi += cc[j] * s[i][j];
            }
            y[i] = yi * silu(z[i]);
        }

        // 9. out_proj · y (+ bias): the block's contribution to the residual stream
        double[] out = matVec(m + "out_proj.weight", dm, dIn, y);
        addBias(out, m + "out_proj.bias", c.useBias());
        return out;
    }

    /** Layer {@code l}'s state {@code s[i][n]} after the tokens fed so far. */
    double[][] ssmState(int l) {
        return state[l];
    }

    private static double[] rmsNorm(double[] v, double[] weight, double eps) {
        double ss = 0;
        for (double e : v) {
            ss += e * e;
        }
        double scale = 1 / Math.sqrt(ss / v.length + eps);
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] * scale * (weight == null ? 1 : weight[i]);
        }
        return out;
    }

    private static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    /** torch.nn.functional.softplus (beta 1, threshold 20). */
    private static double softplus(double v) {
        return v > 20 ? v : Math.log1p(Math.exp(v));
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    private void addBias(double[] v, String name, boolean present) {
        if (present) {
            double[] bias = vector(name, v.length);
            for (int i = 0; i < v.length; i++) {
                v[i] += bias[i];
            }
        }
    }

    /** {@code W · v} for the {@code rows × cols} weight {@code name}, summed in double. */
    private double[] matVec(String name, int rows, int cols, double[] v) {
        Tensor t = Weights.tensor(w, name, rows, cols);
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int col = 0; col < cols; col++) {
                s += t.get((long) r * cols + col) * v[col];
            }
            out[r] = s;
        }
        return out;
    }

    private double[] vector(String name, int n) {
        Tensor t = Weights.tensor(w, name, n);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = t.get(i);
        }
        return out;
    }

    private double[] row(String name, int r, int cols) {
        Tensor t = w.tensor(name);
        double[] out = new double[cols];
        for (int i = 0; i < cols; i++) {
            out[i] = t.get((long) r * cols + i);
        }
        return out;
    }

    /** A {@code rows × cols} weight (conv1d.weight's {@code [d_in, 1, k]} read as {@code d_in × k}). */
    private double[][] rows(String name, int rows, int cols) {
        Tensor t = Weights.tensor(w, name, rows, cols);
        double[][] out = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int col = 0; col < cols; col++) {
                out[r][col] = t.get((long) r * cols + col);
            }
        }
        return out;
    }
}
