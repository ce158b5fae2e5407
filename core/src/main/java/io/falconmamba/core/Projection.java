package io.falconmamba.core;

import io.falconmamba.core.kernels.MatMul;
import io.falconmamba.core.kernels.MatVec;
import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.PackedMatMul;
import io.falconmamba.core.kernels.PackedMatrix;
import io.falconmamba.core.kernels.QMatMul;
import io.falconmamba.core.kernels.QMatVec;
import io.falconmamba.core.kernels.QuantizedMatrix;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;

/** A weight applied to a block of rows: matrix × vector for one row (bandwidth-bound), tiled matrix × matrix for more. */
final class Projection {

    /**
     * Below this many multiply-adds a call runs on the caller's thread: waking the pool costs a few
     * microseconds, more than small matrices (tiny models, dt_proj) take on one core.
     */
    static final long MIN_PARALLEL_WORK = 1L << 16;

    private static final ThreadPool INLINE = new ThreadPool(1);

    private Projection() {}

    /** The pool for work of {@code work} multiply-adds: the given one, or the caller alone for small work. */
    static ThreadPool poolFor(long work, ThreadPool pool) {
        return work < MIN_PARALLEL_WORK ? INLINE : pool;
    }

    static void apply(
            Weight w,
            float[] in,
            int inOff,
            int inStride,
            int rows,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        pool = poolFor((long) w.rows() * w.cols() * rows, pool);
        switch (w) {
            case Matrix m -> {
                if (rows == 1) {
                    MatVec.multiply(m, in, inOff, out, outOff, pool);
                } else {
                    MatMul.multiply(m, in, inOff, inStride, rows, out, outOff, outStride, pool);
                }
            }
            case PackedMatrix p -> {
                if (rows < PackedMatMul.MAX_TOKENS) {
                    PackedMatMul.multiply(p, in, inOff, inStride, rows, out, outOff, outStride, pool);
                } else {
                    MatMul.multiply(p, in, inOff, inStride, rows, out, outOff, outStride, pool);
                }
            }
            case QuantizedMatrix q -> {
                if (rows == 1) {
                    QMatVec.multiply(q, in, inOff, out, outOff, pool);
                } else {
                    QMatMul.multiply(q, in, inOff, inStride, rows, out, outOff, outStride, pool);
                }
            }
        }
    }
}
