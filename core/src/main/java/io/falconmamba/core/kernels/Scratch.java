package io.falconmamba.core.kernels;

/** Per-thread scratch arrays of the kernels, grown on demand and kept: nothing is allocated per product. */
final class Scratch {

    private Scratch() {}

    /** {@code slot}'s array, replaced by a larger one when it holds fewer than {@code n} floats. */
    static float[] floats(ThreadLocal<float[]> slot, int n) {
        float[] a = slot.get();
        if (a.length < n) {
            a = new float[n];
            slot.set(a);
        }
        return a;
    }
}
