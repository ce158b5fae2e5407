package io.falconmamba.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.util.Arrays;

import static io.falconmamba.core.kernels.Convert.F;

/**
 * The selective-scan recurrence of one Mamba layer, per channel {@code i} and state index {@code n}
 * (paper notation: Δ = delta, the input x, B, C, A, D, the SSM state s):
 * <pre>
 *   s[i,n] = exp(Δ[i]·A[i,n]) · s[i,n] + Δ[i]·B[n]·x[i]
 *   y[i]   = Σ_n C[n]·s[i,n] + D[i]·x[i]
 * </pre>
 * over T tokens in order. A chunk of a channel's state stays in a register for the whole run of tokens; the
 * decay is {@link Exp}'s inline exponential.
 */
public final class SelectiveScan {

    /** Tokens whose C·s vectors are held at once (a {@code TOKEN_BLOCK × lanes} buffer per call). */
    static final int TOKEN_BLOCK = 256;

    private SelectiveScan() {
    }

    /**
     * Runs tokens {@code t < tokens} for channels {@code [from, to)}.
     *
     * @param state  {@code dIn × N}, updated in place
     * @param a      A, {@code dIn × N} (already {@code -exp(A_log)})
     * @param delta  Δ rows: {@code delta[dOff + t*dStride + i]}
     * @param x      x rows: {@code x[xOff + t*xStride + i]}
     * @param bc     rows holding B at {@code bcOff + t*bcStride} and C at {@code bcOff + t*bcStride + N}
     * @param d      D, per channel
     * @param y      output rows: {@code y[yOff + t*yStride + i]}
     */
    public static void scan(float[] state, float[] a, int n,
                            float[] delta, int dOff, int dStride,
                            float[] x, int xOff, int xStride,
                            float[] bc, int bcOff, int bcStride,
                            float[] d,
                            float[] y, int yOff, int yStride,
                            int tokens, int from, int to) {
        // Per token, C·s is kept as a vector (summed over the state chunks) and its lanes are added after the
        // token loop: the recurrence never waits on a horizontal sum, and Lanes.sum fixes the order.
        int block = Math.min(tokens, TOKEN_BLOCK);
        float[] part = new float[block * F.length()];
        boolean whole = n % F.length() == 0;
        for (int i = from; i < to; i++) {
            for (int t0 = 0; t0 < tokens; t0 += block) {
                int t1 = Math.min(tokens, t0 + block);
                Arrays.fill(part, 0f);
                if (whole) {
                    // N a multiple of the vector length (16 in every released model): no masks. Two chunks of
                    // the state per pass where they fit (N = 16 on AVX2).
                    int n0 = 0;
                    for (; n0 + 2 * F.length() <= n; n0 += 2 * F.length()) {
                        int row = i * n + n0;
                        int row1 = row + F.length();
                        FloatVector s0 = FloatVector.fromArray(F, state, row);
                        FloatVector s1 = FloatVector.fromArray(F, state, row1);
                        FloatVector a0 = FloatVector.fromArray(F, a, row);
                        FloatVector a1 = FloatVector.fromArray(F, a, row1);
                        for (int t = t0; t < t1; t++) {
                            float dt = delta[dOff + t * dStride + i];
                            float dtx = dt * x[xOff + t * xStride + i];
                            int b = bcOff + t * bcStride + n0;
                            s0 = Exp.exp(a0.mul(dt)).fma(s0, FloatVector.fromArray(F, bc, b).mul(dtx));
                            s1 = Exp.exp(a1.mul(dt)).fma(s1, FloatVector.fromArray(F, bc, b + F.length()).mul(dtx));
                            int p = (t - t0) * F.length();
                            FloatVector.fromArray(F, bc, b + n).fma(s0, FloatVector.fromArray(F, part, p))
                                    .add(FloatVector.fromArray(F, bc, b + n + F.length()).mul(s1)).intoArray(part, p);
                        }
                        s0.intoArray(state, row);
                        s1.intoArray(state, row1);
                    }
                    for (; n0 < n; n0 += F.length()) {
                        int row = i * n + n0;
                        FloatVector s = FloatVector.fromArray(F, state, row);
                        FloatVector av = FloatVector.fromArray(F, a, row);
                        for (int t = t0; t < t1; t++) {
                            float dt = delta[dOff + t * dStride + i];
                            float dtx = dt * x[xOff + t * xStride + i];
                            int b = bcOff + t * bcStride + n0;
                            s = Exp.exp(av.mul(dt)).fma(s, FloatVector.fromArray(F, bc, b).mul(dtx));
                            int p = (t - t0) * F.length();
                            FloatVector.fromArray(F, bc, b + n).fma(s, FloatVector.fromArray(F, part, p)).intoArray(part, p);
                        }
                        s.intoArray(state, row);
                    }
                } else {
                    for (int n0 = 0; n0 < n; n0 += F.length()) {
                        VectorMask<Float> m = F.indexInRange(n0, n);
                        int row = i * n + n0;
                        FloatVector s = FloatVector.fromArray(F, state, row, m);
                        FloatVector av = FloatVector.fromArray(F, a, row, m);
                        for (int t = t0; t < t1; t++) {
                            float dt = delta[dOff + t * dStride + i];
                            float dtx = dt * x[xOff + t * xStride + i];
                            int b = bcOff + t * bcStride + n0;
                            s = Exp.exp(av.mul(dt)).fma(s, FloatVector.fromArray(F, bc, b, m).mul(dtx));
                            int p = (t - t0) * F.length();
                            // Lanes past N load C as 0 and keep s at 0, so they add 0.
                            FloatVector.fromArray(F, bc, b + n, m).fma(s, FloatVector.fromArray(F, part, p)).intoArray(part, p);
                        }
                        s.intoArray(state, row, m);
                    }
                }
                for (int t = t0; t < t1; t++) {
                    y[yOff + t * yStride + i] = d[i] * x[xOff + t * xStride + i] + Lanes.sum(part, (t - t0) * F.length());
                }
            }
        }
    }

    /**
     * One token for each of {@code count} sequences (decode and batch decode): token {@code t} (row {@code t} of
     * delta, x, bc and y) updates {@code states[t]}, channels {@code [from, to)}. Channel by channel across the
     * sequences; C·s accumulated as a vector over the state and summed once per channel.
     */
    public static void step(float[][] states, int count, float[] a, int n,
                            float[] delta, int dOff, int dStride,
                            float[] x, int xOff, int xStride,
                            float[] bc, int bcOff, int bcStride,
                            float[] d,
                            float[] y, int yOff, int yStride,
                            int from, int to) {
        float[] lanes = Lanes.scratch();
        if (n % F.length() != 0) {
            for (int t = 0; t < count; t++) {
                scan(states[t], a, n, delta, dOff + t * dStride, dStride, x, xOff + t * xStride, xStride,
                        bc, bcOff + t * bcStride, bcStride, d, y, yOff + t * yStride, yStride, 1, from, to);
            }
            return;
        }
        if (n == F.length()) {
            // One vector per channel (N = 16 on AVX-512, every released model): no loop over chunks of N.
            for (int i = from; i < to; i++) {
                int row = i * n;
                for (int t = 0; t < count; t++) {
                    float[] state = states[t];
                    float dt = delta[dOff + t * dStride + i];
                    float xi = x[xOff + t * xStride + i];
                    int b = bcOff + t * bcStride;
                    FloatVector s = Exp.exp(FloatVector.fromArray(F, a, row).mul(dt))
                            .fma(FloatVector.fromArray(F, state, row), FloatVector.fromArray(F, bc, b).mul(dt * xi));
                    s.intoArray(state, row);
                    FloatVector.fromArray(F, bc, b + n).mul(s).intoArray(lanes, 0);
                    y[yOff + t * yStride + i] = Lanes.sum(lanes) + d[i] * xi;
                }
            }
            return;
        }
        for (int i = from; i < to; i++) {
            for (int t = 0; t < count; t++) {
                float[] state = states[t];
                float dt = delta[dOff + t * dStride + i];
                float xi = x[xOff + t * xStride + i];
                float dtx = dt * xi;
                int b = bcOff + t * bcStride;
                FloatVector acc = FloatVector.zero(F);
                for (int n0 = 0; n0 < n; n0 += F.length()) {
                    int row = i * n + n0;
                    FloatVector s = Exp.exp(FloatVector.fromArray(F, a, row).mul(dt))
                            .fma(FloatVector.fromArray(F, state, row), FloatVector.fromArray(F, bc, b + n0).mul(dtx));
                    s.intoArray(state, row);
                    acc = FloatVector.fromArray(F, bc, b + n + n0).fma(s, acc);
                }
                acc.intoArray(lanes, 0);
                y[yOff + t * yStride + i] = Lanes.sum(lanes) + d[i] * xi;
            }
        }
    }
}
