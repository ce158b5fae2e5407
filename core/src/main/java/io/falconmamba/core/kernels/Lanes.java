package io.falconmamba.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

import static io.falconmamba.core.kernels.Convert.F;

/**
 * The sum of a float vector's lanes in one fixed order, so a result does not depend on how the code was compiled.
 *
 * <p>{@code reduceLanes(ADD)} leaves the order unspecified, and it changes with the JIT: interpreted code adds the
 * lanes one by one, while C2 may fold a following scalar add into the reduction ({@code y += v.reduceLanes(ADD)}
 * became {@code y + l0 + l1 + ...}), so the same prompt gave logits one ulp apart before and after warm-up. Here
 * the halves are added pairwise (lane i + lane i+L/2, then i + L/4, ...), each step a lanewise add that every
 * tier computes alike.
 */
final class Lanes {

    private static final VectorShuffle<Float> BY8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> BY4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> BY2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> BY1 = VectorShuffle.iota(F, 1, 1, true);

    private Lanes() {
    }

    static float sum(FloatVector v) {
        // F.length() is a constant, so the untaken steps compile away.
        if (F.length() >= 16) {
            v = v.add(v.rearrange(BY8));
        }
        if (F.length() >= 8) {
            v = v.add(v.rearrange(BY4));
        }
        if (F.length() >= 4) {
            v = v.add(v.rearrange(BY2));
        }
        return v.add(v.rearrange(BY1)).lane(0);
    }
}
