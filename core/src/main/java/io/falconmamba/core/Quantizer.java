package io.falconmamba.core;

import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.QuantizedMatrix;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;

import java.lang.foreign.Arena;

/**
 * Turns projection matrices into their quantized form at load, into one shared off-heap arena the model frees
 * when it closes. {@link Quantization#NONE}, and matrices whose rows do not split into 32-weight blocks (a small
 * dt_proj), stay as stored.
 */
final class Quantizer implements AutoCloseable {

    private final Quantization type;
    private final ThreadPool pool;
    private final Arena arena;

    Quantizer(Quantization type, ThreadPool pool) {
        this.type = type;
        this.pool = pool;
        this.arena = type == Quantization.NONE ? null : Arena.ofShared();
    }

    Quantization type() {
        return type;
    }

    Weight apply(Matrix m) {
        if (arena == null || !QuantizedMatrix.quantizable(m.cols())) {
            return m;
        }
        return QuantizedMatrix.quantize(m, type, arena, pool);
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
    }
}
