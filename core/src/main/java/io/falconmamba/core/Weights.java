package io.falconmamba.core;

import io.falconmamba.core.kernels.BlockMatrix;
import io.falconmamba.core.kernels.Matrix;
import io.falconmamba.core.kernels.Weight;
import java.util.Arrays;

/** Fetching tensors by name with the shape the config implies; a wrong one names itself. */
final class Weights {

    private Weights() {}

    static Tensor tensor(WeightSource w, String name, long... shape) {
        if (!w.contains(name)) {
            throw new IllegalArgumentException(
                    "missing tensor " + name + " (expected shape " + Arrays.toString(shape) + ")");
        }
        Tensor t = w.tensor(name);
        long[] got = t.shape();
        // conv1d.weight is [d_in, 1, k]; accept it as [d_in, k] too by comparing the flattened trailing dims.
        if (!Arrays.equals(got, shape)
                && !(got.length == 3 && shape.length == 2 && got[0] == shape[0] && got[1] == 1 && got[2] == shape[1])) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(got)
                    + " but the config implies " + Arrays.toString(shape));
        }
        return t;
    }

    static Weight matrix(WeightSource w, String name, int rows, int cols) {
        Tensor t = tensor(w, name, rows, cols);
        FiniteCheck.scanMatrix(t);
        return matrix(t);
    }

    /**
     * Views a tensor as a matrix: the first dimension is rows, the rest flatten into columns
     * (so conv1d.weight [d_in, 1, k] is d_in × k). Element types become a {@link Matrix}, block formats a
     * {@link BlockMatrix} of their family; both read the tensor's memory in place.
     */
    static Weight matrix(Tensor t) {
        long[] shape = t.shape();
        if (shape.length < 1) {
            throw new IllegalArgumentException("tensor " + t.name() + " is a scalar, not a matrix");
        }
        long rows = shape[0];
        long cols = 1;
        for (int i = 1; i < shape.length; i++) {
            cols *= shape[i];
        }
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "tensor " + t.name() + " is too large for a matrix: " + rows + "×" + cols);
        }
        return t.format().blocked()
                ? BlockMatrix.of(t.name(), (int) rows, (int) cols, t.format(), t.data())
                : new Matrix(t.name(), (int) rows, (int) cols, t.format(), t.data());
    }

    /** A projection weight: quantized by {@code q} when it asks for it and the rows split into blocks, else as stored. */
    static Weight weight(WeightSource w, String name, int rows, int cols, ProjectionLoader q) {
        return q.apply(matrix(w, name, rows, cols));
    }

    /** A small parameter (a norm, a bias, D): a non-finite value in it is a load error. */
    static float[] vector(WeightSource w, String name, int n) {
        return FiniteCheck.require(name, tensor(w, name, n).toFloatArray());
    }

    /** A small matrix read whole (A_log): a non-finite value in it is a load error. */
    static float[] matrixAsVector(WeightSource w, String name, int rows, int cols) {
        return FiniteCheck.require(name, tensor(w, name, rows, cols).toFloatArray());
    }
}
