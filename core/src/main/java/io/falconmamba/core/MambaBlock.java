package io.falconmamba.core;

import io.falconmamba.core.kernels.Activations;
import io.falconmamba.core.kernels.CausalConv1d;
import io.falconmamba.core.kernels.MatrixProduct;
import io.falconmamba.core.kernels.RmsNorm;
import io.falconmamba.core.kernels.SelectiveScan;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;

/**
 * One residual block: {@code h = h + Mixer(RMSNorm(h))}, the nine steps of {@code docs/design.md} over a block of rows.
 * Names follow the Mamba paper: x (mixer input after the conv), z (gate), dt/Δ (step size), B, C (input and
 * output projections of the state), A (state decay, {@code -exp(A_log)}), D (skip).
 *
 * <p>The large matrices are read in place; the per-channel vectors are small and kept as float arrays
 * (A precomputed from A_log once at load).
 */
final class MambaBlock {

    private final MambaConfig c;
    private final float[] normWeight;
    private final Weight inProj;
    private final float[] inBias;
    /** Conv kernel transposed to {@code k × d_in} so the conv vectorises across channels. */
    private final float[] convWeight;

    private final float[] convBias;
    private final Weight xProj;
    private final Weight dtProj;
    private final float[] dtBias;
    private final float[] a;
    private final float[] d;
    private final Weight outProj;
    private final float[] outBias;

    MambaBlock(MambaConfig c, WeightSource w, int layer, ProjectionLoader q) {
        this.c = c;
        String p = "backbone.layers." + layer + ".";
        String m = p + "mixer.";
        int dm = c.hiddenSize();
        int dIn = c.intermediateSize();
        int n = c.stateSize();
        int r = c.timeStepRank();
        int k = c.convKernel();
        normWeight = Weights.vector(w, p + "norm.weight", dm);
        inProj = Weights.weight(w, m + "in_proj.weight", 2 * dIn, dm, q);
        inBias = c.useBias() ? Weights.vector(w, m + "in_proj.bias", 2 * dIn) : null;
        Weight conv = Weights.matrix(w, m + "conv1d.weight", dIn, k);
        convWeight = new float[k * dIn];
        float[] row = new float[k];
        for (int ch = 0; ch < dIn; ch++) {
            conv.rowToFloats(ch, row, 0);
            for (int j = 0; j < k; j++) {
                convWeight[j * dIn + ch] = row[j];
            }
        }
        convBias = c.useConvBias() ? Weights.vector(w, m + "conv1d.bias", dIn) : null;
        xProj = Weights.weight(w, m + "x_proj.weight", r + 2 * n, dIn, q);
        dtProj = Weights.weight(w, m + "dt_proj.weight", dIn, r, q);
        dtBias = Weights.vector(w, m + "dt_proj.bias", dIn);
        float[] aLog = Weights.matrixAsVector(w, m + "A_log", dIn, n);
        a = new float[aLog.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) -Math.exp(aLog[i]);
        }
        d = Weights.vector(w, m + "D", dIn);
        outProj = Weights.weight(w, m + "out_proj.weight", dm, dIn, q);
        outBias = c.useBias() ? Weights.vector(w, m + "out_proj.bias", dm) : null;
    }

    /** Bytes of the matrices this block reads per token. */
    long matrixBytes() {
        return inProj.byteSize() + xProj.byteSize() + dtProj.byteSize() + outProj.byteSize();
    }

    /**
     * Runs rows {@code [0, rows)} of {@code ws.h} through the block. When {@code states.length == 1} all rows
     * are consecutive tokens of that one sequence; otherwise row {@code t} belongs to {@code states[t]}.
     */
    void forward(Workspace ws, int rows, SequenceState[] states, int layer, ThreadPool pool) {
        int dm = c.hiddenSize();
        int dIn = c.intermediateSize();
        int n = c.stateSize();
        int r = c.timeStepRank();
        int proj = r + 2 * n;

        // 1. u = RMSNorm(h) * norm.weight
        for (int t = 0; t < rows; t++) {
            RmsNorm.apply(ws.h, t * dm, dm, normWeight, c.layerNormEpsilon(), ws.u, t * dm);
        }
        // 2. [x | z] = in_proj · u
        MatrixProduct.multiply(inProj, ws.u, 0, dm, rows, ws.xz, 0, 2 * dIn, pool);
        addBias(ws.xz, 2 * dIn, rows, inBias);
        // 3. x = SiLU(causal conv1d(x) + bias), carrying the conv window
        if (states.length == 1) {
            CausalConv1d.apply(
                    states[0].conv[layer],
                    convWeight,
                    convBias,
                    c.convKernel(),
                    dIn,
                    ws.xz,
                    0,
                    2 * dIn,
                    rows,
                    ws.x,
                    0,
                    dIn,
                    0,
                    dIn);
        } else {
            for (int t = 0; t < rows; t++) {
                CausalConv1d.apply(
                        states[t].conv[layer],
                        convWeight,
                        convBias,
                        c.convKernel(),
                        dIn,
                        ws.xz,
                        t * 2 * dIn,
                        2 * dIn,
                        1,
                        ws.x,
                        t * dIn,
                        dIn,
                        0,
                        dIn);
            }
        }
        Activations.silu(ws.x, 0, rows * dIn);
        // 4. [dt | B | C] = x_proj · x
        MatrixProduct.multiply(xProj, ws.x, 0, dIn, rows, ws.dtBC, 0, proj, pool);
        // 5. FalconMamba: weightless RMS norm of dt, B and C
        if (c.architecture() == Architecture.FALCON_MAMBA) {
            float eps = c.mixerRmsEps();
            for (int t = 0; t < rows; t++) {
                int o = t * proj;
                RmsNorm.apply(ws.dtBC, o, r, null, eps, ws.dtBC, o);
                RmsNorm.apply(ws.dtBC, o + r, n, null, eps, ws.dtBC, o + r);
                RmsNorm.apply(ws.dtBC, o + r + n, n, null, eps, ws.dtBC, o + r + n);
            }
        }
        // 6. Δ = softplus(dt_proj · dt + dt_proj.bias)
        MatrixProduct.multiply(dtProj, ws.dtBC, 0, proj, rows, ws.delta, 0, dIn, pool);
        addBias(ws.delta, dIn, rows, dtBias);
        Activations.softplus(ws.delta, 0, rows * dIn);
        // 7-8. the selective scan: s = exp(Δ·A)·s + Δ·B·x ; y = C·s + D·x
        ws.scan.set(this, states, layer, rows);
        pool.forWork((long) dIn * n * rows * 4).parallelFor(dIn, ws.scan);
        // 8. y = y * SiLU(z)
        for (int t = 0; t < rows; t++) {
            Activations.mulSilu(ws.y, t * dIn, ws.xz, t * 2 * dIn + dIn, dIn);
        }
        // 9. h = h + out_proj · y
        MatrixProduct.multiply(outProj, ws.y, 0, dIn, rows, ws.out, 0, dm, pool);
        addBias(ws.out, dm, rows, outBias);
        Activations.add(ws.h, 0, ws.out, 0, rows * dm);
    }

    /**
     * Scans channels {@code [from, to)}: the parallel split of step 7-8, reused per workspace. With
     * {@code oneTokenPerState} (decode, batch decode) {@code ws.layerStates} holds each row's state for this layer.
     */
    void scanChannels(
            Workspace ws, SequenceState[] states, int layer, int rows, boolean oneTokenPerState, int from, int to) {
        int dIn = c.intermediateSize();
        int n = c.stateSize();
        int proj = c.timeStepRank() + 2 * n;
        int bc = c.timeStepRank();
        if (oneTokenPerState) {
            SelectiveScan.step(
                    ws.layerStates,
                    rows,
                    a,
                    n,
                    ws.delta,
                    0,
                    dIn,
                    ws.x,
                    0,
                    dIn,
                    ws.dtBC,
                    bc,
                    proj,
                    d,
                    ws.y,
                    0,
                    dIn,
                    from,
                    to);
        } else {
            SelectiveScan.scan(
                    states[0].ssm[layer],
                    a,
                    n,
                    ws.delta,
                    0,
                    dIn,
                    ws.x,
                    0,
                    dIn,
                    ws.dtBC,
                    bc,
                    proj,
                    d,
                    ws.y,
                    0,
                    dIn,
                    rows,
                    from,
                    to);
        }
    }

    private static void addBias(float[] rowsBuf, int width, int rows, float[] bias) {
        if (bias == null) {
            return;
        }
        for (int t = 0; t < rows; t++) {
            Activations.add(rowsBuf, t * width, bias, 0, width);
        }
    }
}
