package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

/**
 * The sum of a float vector's lanes in one fixed order, so a result does not depend on how the code was compiled.
 * Kernels store the vector into a small scratch array ({@code v.intoArray(lanes, 0)}) and call {@link #sum}.
 *
 * <p>{@code reduceLanes(ADD)} leaves the order unspecified, and it changes with the JIT: interpreted code adds the
 * lanes one by one, while C2 folds a following scalar add into the reduction ({@code y += v.reduceLanes(ADD)}
 * becomes {@code y + l0 + l1 + ...}; nothing stops another CPU's C2 from adding in a tree), so the same prompt gave logits one ulp
 * apart before and after warm-up. A helper taking the vector itself is no answer: in the large kernels C2
 * declines to inline it (node-count cutoff), and then every call boxes the vector. Once per row (the matrix
 * kernels) a store and a few scalar loads cost no more than the reduction did; the scan, which sums every token,
 * buffers the vectors and sums them after its token loop instead (see {@link SelectiveScan}).
 */
final class Lanes {

    private Lanes() {}

    /**
     * The first {@code F.length()} elements: pairwise for 8 lanes (three adds deep rather than seven), otherwise
     * left to right.
     */
    static float sum(float[] lanes) {
        return sum(lanes, 0);
    }

    /** The same for the vector stored at {@code lanes[off ..]}. */
    static float sum(float[] lanes, int off) {
        if (F.length() == 8) {
            return ((lanes[off] + lanes[off + 1]) + (lanes[off + 2] + lanes[off + 3]))
                    + ((lanes[off + 4] + lanes[off + 5]) + (lanes[off + 6] + lanes[off + 7]));
        }
        float s = lanes[off];
        for (int i = 1; i < F.length(); i++) {
            s += lanes[off + i];
        }
        return s;
    }

    /** A scratch array for {@link #sum}, one per kernel call (or per thread). */
    static float[] scratch() {
        return new float[F.length()];
    }
}
