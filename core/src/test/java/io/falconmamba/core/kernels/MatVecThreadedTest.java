package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Matrices above {@link MatVec#INLINE_BYTES} go through the pool: same results as one thread, every type. */
class MatVecThreadedTest {

    @Test
    void pooledMatchesSingleThreadAboveTheInlineThreshold() {
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(2)) {
            for (Format type : KernelsTest.ELEMENT_FORMATS) {
                int rows = 203; // not a multiple of the rows per pass, split unevenly
                int cols = 1030; // a tail after the vector loop
                MemorySegment seg = arena.allocate((long) rows * cols * type.blockBytes());
                for (long i = 0; i < (long) rows * cols; i++) {
                    float v = (float) rnd.nextGaussian();
                    switch (type) {
                        case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                        case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                        case BF16 ->
                            seg.setAtIndex(
                                    ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                    }
                }
                Matrix w = new Matrix("w", rows, cols, type, seg);
                assertTrue(seg.byteSize() >= MatVec.INLINE_BYTES, "test matrix must take the pooled path");
                float[] x = new float[cols + 1];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                float[] pooled = new float[rows];
                MatVec.multiply(w, x, 1, pooled, 0, pool);
                MemorySegment split = MatVec.allocateSplit(cols / 2);
                int e = MatVec.split(type, x, 1, cols / 2, split);
                float[] single = new float[rows];
                MatVec.rows(w, x, 1, split, Math.scalb(F16Fields.SCALED_SUMS, e), single, 0, 0, rows);
                for (int r = 0; r < rows; r++) {
                    assertEquals(single[r], pooled[r], 1e-4f * (1 + Math.abs(single[r])), type + " row " + r);
                }
            }
        }
    }
}
