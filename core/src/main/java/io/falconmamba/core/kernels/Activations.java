package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Elementwise activations, in place over {@code a[off .. off+n)}. The vector loops use the inline {@link Exp} and
 * {@link Log}, not the Vector API's EXP/LOG1P, whose results change with the JIT tier (see {@link Log}).
 */
public final class Activations {

    /** PyTorch's softplus returns x itself above this (beta = 1, threshold = 20). */
    public static final float SOFTPLUS_THRESHOLD = 20f;

    private Activations() {}

    /** SiLU: {@code x · sigmoid(x) = x / (1 + e^-x)}. */
    public static void silu(float[] a, int off, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromArray(F, a, off + i);
            x.div(Exp.exp(x.neg()).add(1f)).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] = silu(a[off + i]);
        }
    }

    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** Softplus as PyTorch computes it: {@code log(1 + e^x)}, and x itself when x > 20. */
    public static void softplus(float[] a, int off, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromArray(F, a, off + i);
            VectorMask<Float> large = x.compare(VectorOperators.GT, SOFTPLUS_THRESHOLD);
            // x.min(20) as a blend, which AVX2 does in one instruction (see Exp.exp).
            FloatVector y = Log.log1p(Exp.exp(x.blend(FloatVector.broadcast(F, SOFTPLUS_THRESHOLD), large)));
            y.blend(x, large).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] = softplus(a[off + i]);
        }
    }

    public static float softplus(float x) {
        return x > SOFTPLUS_THRESHOLD ? x : (float) Math.log1p(Math.exp(x));
    }

    /** Gating: {@code y[i] *= silu(z[i])}. */
    public static void mulSilu(float[] y, int yOff, float[] z, int zOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector g = FloatVector.fromArray(F, z, zOff + i);
            FloatVector s = g.div(Exp.exp(g.neg()).add(1f));
            FloatVector.fromArray(F, y, yOff + i).mul(s).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] *= silu(z[zOff + i]);
        }
    }

    /** {@code a[i] += b[i]} (residual add, bias add). */
    public static void add(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, a, aOff + i)
                    .add(FloatVector.fromArray(F, b, bOff + i))
                    .intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] += b[bOff + i];
        }
    }
}
