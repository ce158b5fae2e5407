package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import jdk.incubator.vector.FloatVector;

/** RMSNorm: {@code out = x / sqrt(mean(x²) + eps) · weight} (weight omitted for the weightless B/C/dt norm). */
public final class RmsNorm {

    private RmsNorm() {}

    /**
     * Normalises {@code x[xOff .. xOff+n)} into {@code out[outOff ..)} (may be the same place).
     *
     * @param weight per-element scale, or {@code null} for none
     */
    public static void apply(float[] x, int xOff, int n, float[] weight, float eps, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            acc = v.fma(v, acc);
        }
        float[] lanes = Lanes.scratch();
        acc.intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += x[xOff + i] * x[xOff + i];
        }
        float scale = (float) (1.0 / Math.sqrt(sum / n + eps));
        i = 0;
        if (weight == null) {
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, x, xOff + i).mul(scale).intoArray(out, outOff + i);
            }
            for (; i < n; i++) {
                out[outOff + i] = x[xOff + i] * scale;
            }
        } else {
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, x, xOff + i)
                        .mul(scale)
                        .mul(FloatVector.fromArray(F, weight, i))
                        .intoArray(out, outOff + i);
            }
            for (; i < n; i++) {
                out[outOff + i] = x[xOff + i] * scale * weight[i];
            }
        }
    }
}
