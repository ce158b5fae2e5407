package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * The selective-scan recurrence of one Mamba layer, per channel {@code i} and state index {@code n}
 * (paper notation: Δ = delta, the input x, B, C, A, D, the SSM state s):
 * <pre>
 *   s[i,n] = exp(Δ[i]·A[i,n]) · s[i,n] + Δ[i]·B[n]·x[i]
 *   y[i]   = Σ_n C[n]·s[i,n] + D[i]·x[i]
 * </pre>
 * over T tokens in order. Prefill ({@link #scan}) takes channels a vector at a time, each vector holding one state
 * index of L channels, which stays in a register for the whole run of tokens; decode ({@link #step}) takes one
 * channel at a time, vectors over the state. The decay is {@link Exp}'s inline exponential.
 */
public final class SelectiveScan {

    /** Tokens whose C·s vectors are held at once (a {@code TOKEN_BLOCK × lanes} buffer per call). */
    static final int TOKEN_BLOCK = 256;

    private SelectiveScan() {}

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
    public static void scan(
            float[] state,
            float[] a,
            int n,
            float[] delta,
            int dOff,
            int dStride,
            float[] x,
            int xOff,
            int xStride,
            float[] bc,
            int bcOff,
            int bcStride,
            float[] d,
            float[] y,
            int yOff,
            int yStride,
            int tokens,
            int from,
            int to) {
        // Per token, C·s is kept as a vector (summed over the state chunks) and its lanes are added after the
        // token loop: the recurrence never waits on a horizontal sum, and Lanes.sum fixes the order.
        int block = Math.min(tokens, TOKEN_BLOCK);
        float[] part = new float[block * F.length()];
        boolean whole = n % F.length() == 0;
        int first = from;
        if (whole && to - from >= F.length()) {
            first = from + (to - from) / F.length() * F.length();
            scanAcrossChannels(
                    state, a, n, delta, dOff, dStride, x, xOff, xStride, bc, bcOff, bcStride, d, y, yOff, yStride,
                    tokens, from, first);
        }
        for (int i = first; i < to; i++) {
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
                            s0 = Exp.exp(a0.mul(dt))
                                    .fma(s0, FloatVector.fromArray(F, bc, b).mul(dtx));
                            s1 = Exp.exp(a1.mul(dt))
                                    .fma(
                                            s1,
                                            FloatVector.fromArray(F, bc, b + F.length())
                                                    .mul(dtx));
                            int p = (t - t0) * F.length();
                            FloatVector.fromArray(F, bc, b + n)
                                    .fma(s0, FloatVector.fromArray(F, part, p))
                                    .add(FloatVector.fromArray(F, bc, b + n + F.length())
                                            .mul(s1))
                                    .intoArray(part, p);
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
                            s = Exp.exp(av.mul(dt))
                                    .fma(s, FloatVector.fromArray(F, bc, b).mul(dtx));
                            int p = (t - t0) * F.length();
                            FloatVector.fromArray(F, bc, b + n)
                                    .fma(s, FloatVector.fromArray(F, part, p))
                                    .intoArray(part, p);
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
                            s = Exp.exp(av.mul(dt))
                                    .fma(s, FloatVector.fromArray(F, bc, b, m).mul(dtx));
                            int p = (t - t0) * F.length();
                            // Lanes past N load C as 0 and keep s at 0, so they add 0.
                            FloatVector.fromArray(F, bc, b + n, m)
                                    .fma(s, FloatVector.fromArray(F, part, p))
                                    .intoArray(part, p);
                        }
                        s.intoArray(state, row, m);
                    }
                }
                for (int t = t0; t < t1; t++) {
                    y[yOff + t * yStride + i] =
                            d[i] * x[xOff + t * xStride + i] + Lanes.sum(part, (t - t0) * F.length());
                }
            }
        }
    }

    /** Tokens per pass of {@link #scanAcrossChannels}: its buffers hold {@code L + 2} vectors per token. */
    static final int CHANNEL_TOKENS = 64;

    /**
     * {@link #scan} for channels {@code [from, to)}, {@code to - from} a multiple of the vector length L and N a
     * multiple of L, with each vector over L channels instead of over the state: Δ and x are read as whole
     * vectors, and each token's {@code y} comes out as a vector, with no horizontal sum. Every lane computes
     * exactly what {@link #scan}'s per-channel loop computes, in the same order, so the results are the same bits:
     * the lane-k "partial" of that loop ({@code C[n0+k]·s[n0+k]} fused into it, then {@code C[n0+L+k]·s[n0+L+k]}
     * added, per chunk pair {@code n0}) becomes one vector over channels per k and token, and their sum follows
     * {@link Lanes#sum}'s order.
     */
    private static void scanAcrossChannels(
            float[] state,
            float[] a,
            int n,
            float[] delta,
            int dOff,
            int dStride,
            float[] x,
            int xOff,
            int xStride,
            float[] bc,
            int bcOff,
            int bcStride,
            float[] d,
            float[] y,
            int yOff,
            int yStride,
            int tokens,
            int from,
            int to) {
        int L = F.length();
        int block = Math.min(tokens, CHANNEL_TOKENS);
        float[] dts = new float[block * L];
        float[] dtxs = new float[block * L];
        float[] parts = new float[L * block * L];
        float[] lanes = new float[L];
        for (int i0 = from; i0 < to; i0 += L) {
            for (int t0 = 0; t0 < tokens; t0 += block) {
                int t1 = Math.min(tokens, t0 + block);
                int count = t1 - t0;
                // This block's Δ and Δ·x, contiguous: rows of Δ and x are dIn floats apart, a multiple of 4 KiB.
                for (int t = t0; t < t1; t++) {
                    FloatVector dt = FloatVector.fromArray(F, delta, dOff + t * dStride + i0);
                    dt.intoArray(dts, (t - t0) * L);
                    dt.mul(FloatVector.fromArray(F, x, xOff + t * xStride + i0)).intoArray(dtxs, (t - t0) * L);
                }
                Arrays.fill(parts, 0, L * count * L, 0f);
                for (int k = 0; k < L; k++) {
                    int pk = k * count * L;
                    int n0 = 0;
                    for (; n0 + 2 * L <= n; n0 += 2 * L) {
                        int na = n0 + k;
                        int nb = n0 + L + k;
                        FloatVector aa = FloatVector.fromArray(F, gather(a, n, i0, na, lanes), 0);
                        FloatVector ab = FloatVector.fromArray(F, gather(a, n, i0, nb, lanes), 0);
                        FloatVector sa = FloatVector.fromArray(F, gather(state, n, i0, na, lanes), 0);
                        FloatVector sb = FloatVector.fromArray(F, gather(state, n, i0, nb, lanes), 0);
                        int b = bcOff + t0 * bcStride;
                        for (int q = 0; q < count * L; q += L, b += bcStride) {
                            FloatVector dt = FloatVector.fromArray(F, dts, q);
                            FloatVector dtx = FloatVector.fromArray(F, dtxs, q);
                            sa = Exp.exp(aa.mul(dt)).fma(sa, dtx.mul(bc[b + na]));
                            sb = Exp.exp(ab.mul(dt)).fma(sb, dtx.mul(bc[b + nb]));
                            FloatVector.broadcast(F, bc[b + n + na])
                                    .fma(sa, FloatVector.fromArray(F, parts, pk + q))
                                    .add(FloatVector.broadcast(F, bc[b + n + nb])
                                            .mul(sb))
                                    .intoArray(parts, pk + q);
                        }
                        sa.intoArray(lanes, 0);
                        scatter(lanes, state, n, i0, na);
                        sb.intoArray(lanes, 0);
                        scatter(lanes, state, n, i0, nb);
                    }
                    for (; n0 < n; n0 += L) {
                        int na = n0 + k;
                        FloatVector aa = FloatVector.fromArray(F, gather(a, n, i0, na, lanes), 0);
                        FloatVector sa = FloatVector.fromArray(F, gather(state, n, i0, na, lanes), 0);
                        int b = bcOff + t0 * bcStride;
                        for (int q = 0; q < count * L; q += L, b += bcStride) {
                            FloatVector dt = FloatVector.fromArray(F, dts, q);
                            FloatVector dtx = FloatVector.fromArray(F, dtxs, q);
                            sa = Exp.exp(aa.mul(dt)).fma(sa, dtx.mul(bc[b + na]));
                            FloatVector.broadcast(F, bc[b + n + na])
                                    .fma(sa, FloatVector.fromArray(F, parts, pk + q))
                                    .intoArray(parts, pk + q);
                        }
                        sa.intoArray(lanes, 0);
                        scatter(lanes, state, n, i0, na);
                    }
                }
                outputs(parts, count, d, x, xOff + t0 * xStride, xStride, y, yOff + t0 * yStride, yStride, i0);
            }
        }
    }

    /*
     * The helpers below take and return no vectors: one that C2 declines to inline would box them (a first
     * version of outputs that returned each token's sum cost 1.7 % of a 512-token prefill that way).
     */

    /**
     * {@code y = D·x + Σ_k parts} for channels {@code i0 ..} of {@code count} tokens (rows {@code x[xo + t*xStride]},
     * {@code y[yo + t*yStride]}), token t's k-th part at {@code parts[(k * count + t) * L]}, added in
     * {@link Lanes#sum}'s order.
     */
    private static void outputs(
            float[] parts,
            int count,
            float[] d,
            float[] x,
            int xo,
            int xStride,
            float[] y,
            int yo,
            int yStride,
            int i0) {
        int L = F.length();
        int stride = count * L;
        FloatVector dv = FloatVector.fromArray(F, d, i0);
        for (int t = 0; t < count; t++) {
            int q = t * L;
            FloatVector sum;
            if (L == 8) {
                FloatVector p01 = FloatVector.fromArray(F, parts, q).add(FloatVector.fromArray(F, parts, stride + q));
                FloatVector p23 = FloatVector.fromArray(F, parts, 2 * stride + q)
                        .add(FloatVector.fromArray(F, parts, 3 * stride + q));
                FloatVector p45 = FloatVector.fromArray(F, parts, 4 * stride + q)
                        .add(FloatVector.fromArray(F, parts, 5 * stride + q));
                FloatVector p67 = FloatVector.fromArray(F, parts, 6 * stride + q)
                        .add(FloatVector.fromArray(F, parts, 7 * stride + q));
                sum = p01.add(p23).add(p45.add(p67));
            } else {
                sum = FloatVector.fromArray(F, parts, q);
                for (int k = 1; k < L; k++) {
                    sum = sum.add(FloatVector.fromArray(F, parts, k * stride + q));
                }
            }
            dv.mul(FloatVector.fromArray(F, x, xo + t * xStride + i0)).add(sum).intoArray(y, yo + t * yStride + i0);
        }
    }

    /** Element {@code [i0 + c, col]} of a row-major matrix of {@code n} columns into {@code lanes[c]}. */
    private static float[] gather(float[] m, int n, int i0, int col, float[] lanes) {
        for (int c = 0; c < lanes.length; c++) {
            lanes[c] = m[(i0 + c) * n + col];
        }
        return lanes;
    }

    /** The reverse of {@link #gather}. */
    private static void scatter(float[] lanes, float[] m, int n, int i0, int col) {
        for (int c = 0; c < lanes.length; c++) {
            m[(i0 + c) * n + col] = lanes[c];
        }
    }

    /** Channels per block of {@link #step}'s one-vector path: their C·s products are summed together. */
    private static final int STEP_BLOCK = 16;

    /** Per thread: a block's C·s products in {@link #step} (decode calls it per layer and token). */
    private static final ThreadLocal<float[]> STEP_PRODUCTS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * One token for each of {@code count} sequences (decode and batch decode): token {@code t} (row {@code t} of
     * delta, x, bc and y) updates {@code states[t]}, channels {@code [from, to)}. Channel by channel across the
     * sequences; C·s accumulated as a vector over the state and summed once per channel.
     */
    public static void step(
            float[][] states,
            int count,
            float[] a,
            int n,
            float[] delta,
            int dOff,
            int dStride,
            float[] x,
            int xOff,
            int xStride,
            float[] bc,
            int bcOff,
            int bcStride,
            float[] d,
            float[] y,
            int yOff,
            int yStride,
            int from,
            int to) {
        float[] lanes = Lanes.scratch();
        if (n % F.length() != 0) {
            for (int t = 0; t < count; t++) {
                scan(
                        states[t],
                        a,
                        n,
                        delta,
                        dOff + t * dStride,
                        dStride,
                        x,
                        xOff + t * xStride,
                        xStride,
                        bc,
                        bcOff + t * bcStride,
                        bcStride,
                        d,
                        y,
                        yOff + t * yStride,
                        yStride,
                        1,
                        from,
                        to);
            }
            return;
        }
        if (n == F.length()) {
            // One vector per channel (N = 16 on AVX-512, every released model): no loop over chunks of N. The C·s
            // vectors of a block of channels are stored first and summed after: each sum is a chain of dependent
            // adds, and chains of different channels overlap only when no exponential sits between them (on a
            // Zen 5 core the blocked loop takes half the time of a sum inside the channel loop).
            float[] products = Scratch.floats(STEP_PRODUCTS, STEP_BLOCK * n);
            for (int i0 = from; i0 < to; i0 += STEP_BLOCK) {
                int channels = Math.min(STEP_BLOCK, to - i0);
                for (int t = 0; t < count; t++) {
                    float[] state = states[t];
                    int b = bcOff + t * bcStride;
                    for (int c = 0; c < channels; c++) {
                        int i = i0 + c;
                        int row = i * n;
                        float dt = delta[dOff + t * dStride + i];
                        float xi = x[xOff + t * xStride + i];
                        FloatVector s = Exp.exp(FloatVector.fromArray(F, a, row).mul(dt))
                                .fma(
                                        FloatVector.fromArray(F, state, row),
                                        FloatVector.fromArray(F, bc, b).mul(dt * xi));
                        s.intoArray(state, row);
                        FloatVector.fromArray(F, bc, b + n).mul(s).intoArray(products, c * n);
                    }
                    for (int c = 0; c < channels; c++) {
                        int i = i0 + c;
                        y[yOff + t * yStride + i] = Lanes.sum(products, c * n) + d[i] * x[xOff + t * xStride + i];
                    }
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
                            .fma(
                                    FloatVector.fromArray(F, state, row),
                                    FloatVector.fromArray(F, bc, b + n0).mul(dtx));
                    s.intoArray(state, row);
                    acc = FloatVector.fromArray(F, bc, b + n + n0).fma(s, acc);
                }
                acc.intoArray(lanes, 0);
                y[yOff + t * yStride + i] = Lanes.sum(lanes) + d[i] * xi;
            }
        }
    }
}
