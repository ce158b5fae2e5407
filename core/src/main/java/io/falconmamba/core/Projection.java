package io.falconmamba.core;

import io.falconmamba.core.kernels.MatMul;
import io.falconmamba.core.kernels.MatVec;
import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.ThreadPool;

/** A weight applied to a block of rows: matrix × vector for one row (bandwidth-bound), tiled matrix × matrix for more. */
final class Projection {

    private Projection() {
    }

    static void apply(Matrix w, float[] in, int inOff, int inStride, int rows,
                      float[] out, int outOff, int outStride, ThreadPool pool) {
        if (rows == 1) {
            MatVec.multiply(w, in, inOff, out, outOff, pool);
        } else {
            MatMul.multiply(w, in, inOff, inStride, rows, out, outOff, outStride, pool);
        }
    }
}
