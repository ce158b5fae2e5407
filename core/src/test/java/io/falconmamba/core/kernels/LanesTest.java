package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** {@link Lanes#sum} adds in the order it documents, which is what keeps results the same across JIT tiers. */
class LanesTest {

    @Test
    void lanesSumAddsInItsDocumentedOrder() {
        int n = F.length();
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) Math.scalb(1.0 + i / 7.0, (i * 5) % 23 - 11);
        }
        v[1] = 1e8f;
        v[n - 2] = -1e8f;
        float want;
        if (n == 8) {
            want = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        } else {
            want = v[0];
            for (int i = 1; i < n; i++) {
                want += v[i];
            }
        }
        // The data tells orders apart: right to left gives other bits.
        float back = v[n - 1];
        for (int i = n - 2; i >= 0; i--) {
            back += v[i];
        }
        assertNotEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(back));
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(Lanes.sum(v)));
        float[] shifted = new float[n + 3];
        FloatVector.fromArray(F, v, 0).intoArray(shifted, 3);
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(Lanes.sum(shifted, 3)));
    }
}
