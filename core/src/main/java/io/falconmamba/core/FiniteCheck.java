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

    /**
     * The sampled scan reads this many runs of {@link #RUN} consecutive elements per matrix, evenly spread: a few
     * pages of each mapped file, so a load stays quick. It meets corruption that spans much of a matrix (NaN-filled
     * or garbage weights, a bad conversion); a single bad value is found by the full scan only.
     */
    private static final int RUNS = 64;

    private static final int RUN = 64;

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
        long found = -1;
        if (Boolean.getBoolean(FULL_SCAN_PROPERTY) || n <= (long) RUNS * RUN) {
            found = scan(t, 0, n);
        } else {
            for (int r = 0; r < RUNS && found < 0; r++) {
                long start = (n - RUN) * r / (RUNS - 1); // the first run starts the matrix, the last ends it
                found = scan(t, start, start + RUN);
            }
        }
        if (found >= 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "tensor " + t.name() + " holds " + t.get(found) + " at element " + found
                            + ": the checkpoint is probably corrupt and may generate garbage (download it again)");
        }
        return found;
    }

    /** Elements read per call of {@link Tensor#get(long, long, float[])}: a block row is decoded once per piece. */
    private static final int PIECE = 1 << 16;

    private static long scan(Tensor t, long from, long to) {
        float[] values = new float[(int) Math.min(PIECE, to - from)];
        for (long start = from; start < to; start += PIECE) {
            long end = Math.min(to, start + PIECE);
            t.get(start, end, values);
            for (int i = 0; i < end - start; i++) {
                if (!Float.isFinite(values[i])) {
                    return start + i;
                }
            }
        }
        return -1;
    }
}
