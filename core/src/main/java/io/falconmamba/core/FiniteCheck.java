package io.falconmamba.core;

/**
 * Catches a corrupted download at load, before it generates: NaN or infinity in a small parameter (norms, A, D,
 * biases) is an error; the large matrices are scanned at sampled positions (every one with
 * {@code -Dfalconmamba.fullWeightScan=true}) and a non-finite value is logged as a warning, since a full pass over
 * gigabytes of mapped weights would cost more than the load itself.
 */
final class FiniteCheck {

    /** The system property that asks for a scan of every matrix element. */
    static final String FULL_SCAN_PROPERTY = "falconmamba.fullWeightScan";

    /** Elements read per matrix by the sampled scan: both ends and an even stride between. */
    private static final int SAMPLES = 4096;

    private static final System.Logger LOG = System.getLogger("io.falconmamba.core");

    private FiniteCheck() {}

    static float[] require(String name, float[] values) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException("tensor " + name + " holds " + values[i] + " at index " + i
                        + ": the checkpoint is corrupt (download it again)");
            }
        }
        return values;
    }

    /** Returns the index of a non-finite element found, or -1; warns when there is one. */
    static long scanMatrix(Tensor t) {
        long n = t.size();
        boolean full = Boolean.getBoolean(FULL_SCAN_PROPERTY);
        long step = full || n <= SAMPLES ? 1 : n / SAMPLES;
        long found = -1;
        for (long i = 0; i < n && found < 0; i += step) {
            if (!Float.isFinite(t.get(i))) {
                found = i;
            }
        }
        if (found < 0 && n > 0 && !Float.isFinite(t.get(n - 1))) {
            found = n - 1;
        }
        if (found >= 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "tensor " + t.name() + " holds " + t.get(found) + " at element " + found
                            + ": the checkpoint is probably corrupt and may generate garbage (download it again)");
        }
        return found;
    }
}
