package io.falconmamba.benchmarks;

import io.falconmamba.core.kernels.Format;
import io.falconmamba.core.kernels.Matrix;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Shared helpers for the JMH benchmarks. */
final class Bench {

    private Bench() {}

    /** Where synthesised checkpoints live: {@code -Dfm.models=DIR}, default {@code /tmp/fm}. */
    static Path models() {
        return Path.of(System.getProperty("fm.models", "/tmp/fm"));
    }

    /** A synthesised checkpoint of that shape and dtype, written on first use. */
    static Path checkpoint(String shape, String dtype) throws IOException {
        return SyntheticCheckpoint.ensure(
                SyntheticCheckpoint.Shape.of(shape), dtype, models().resolve(shape + "-" + dtype), 42);
    }

    /** A rows × cols matrix of random values in ±1/sqrt(cols), off-heap, 64-byte aligned. */
    static Matrix randomMatrix(Arena arena, Format type, int rows, int cols, long seed) {
        long n = (long) rows * cols;
        MemorySegment seg = arena.allocate(n * type.blockBytes(), 64);
        SplittableRandom r = new SplittableRandom(seed);
        float bound = (float) (1 / Math.sqrt(cols));
        for (long i = 0; i < n; i++) {
            float v = (float) (r.nextDouble() * 2 - 1) * bound;
            switch (type) {
                case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                case BF16 ->
                    seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                default -> throw new IllegalArgumentException(type + " is not an element type");
            }
        }
        return new Matrix("bench", rows, cols, type, seg);
    }

    static float[] randomVector(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return x;
    }
}
