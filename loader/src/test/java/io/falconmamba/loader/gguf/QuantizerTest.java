package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Encode then decode through the reference dequantizer. Byte identity with llama-quantize is GgufConverterTest's
 * job; here the error bounds each format guarantees by construction, on Gaussian rows with outliers.
 */
class QuantizerTest {

    private static float[] row(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * (i % 97 == 0 ? 8 : 1));
        }
        return x;
    }

    private static float[] roundTrip(GgmlType t, float[] x) {
        MemorySegment seg = MemorySegment.ofArray(new byte[(int) t.bytesFor(x.length)]);
        Quantizer.quantize(t, x, 0, x.length, seg, 0);
        float[] y = new float[x.length];
        Dequantizer.dequantize(t, seg, 0, y, 0, y.length);
        return y;
    }

    /** Per 32-value block: |error| ≤ factor × (largest magnitude in the block) / levels. */
    private static void assertBlockBound(GgmlType t, double levels, double factor) {
        float[] x = row(t.ordinal(), 4096);
        float[] y = roundTrip(t, x);
        for (int b = 0; b < x.length / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[32 * b + j]));
            }
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                assertTrue(Math.abs(x[i] - y[i]) <= factor * amax / levels, t + " value " + i);
            }
        }
    }

    @Test
    void q8_0WithinHalfAStep() {
        // half a step, plus the scale's rounding to f16 (2^-11 relative) over at most 127 steps
        assertBlockBound(GgmlType.Q8_0, 127, 0.5 + 127 * 0x1p-11);
    }

    @Test
    void q4_0And5_0WithinOneStep() {
        // the value of largest magnitude maps to the level −8 (−16) exactly; the other end of the range is capped at
        // +7 (+15), one step short, so the bound is one step (plus the f16 rounding of the scale)
        assertBlockBound(GgmlType.Q4_0, 8, 1 + 8 * 0x1p-10);
        assertBlockBound(GgmlType.Q5_0, 16, 1 + 16 * 0x1p-10);
    }

    @Test
    void floatTypesRoundToNearest() {
        float[] x = row(1, 512);
        assertEquals(0, rmse(x, roundTrip(GgmlType.F32, x)));
        float[] h = roundTrip(GgmlType.F16, x);
        float[] b = roundTrip(GgmlType.BF16, x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(x[i])), h[i]);
            assertTrue(Math.abs(x[i] - b[i]) <= Math.scalb(Math.abs(x[i]), -8), "bf16 " + i);
        }
    }

    /**
     * K-quants: the relative RMS error of Gaussian rows with 8σ outliers stays near what 6 and 4 bits with
     * per-16/32 scales give (about 3 % for Q6_K; the bounds fail for a wrong scale or a misplaced nibble, which
     * cost 30 % and more).
     */
    @Test
    void kQuantsKeepTheRmsError() {
        float[] x = row(3, 256 * 16);
        double rms = rmse(x, new float[x.length]);
        double q6 = rmse(x, roundTrip(GgmlType.Q6_K, x)) / rms;
        double q4 = rmse(x, roundTrip(GgmlType.Q4_K, x)) / rms;
        assertTrue(q6 < 0.04, "Q6_K relative rms error " + q6);
        assertTrue(q4 < 0.10, "Q4_K relative rms error " + q4);
        assertTrue(q6 < q4);
    }

    @Test
    void zeroRowsStayZero() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K}) {
            float[] y = roundTrip(t, new float[256]);
            for (float v : y) {
                assertTrue(v == 0, t.name() + " gave " + v);
            }
        }
    }

    private static double rmse(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        }
        return Math.sqrt(s / a.length);
    }
}
