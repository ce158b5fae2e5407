package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The bandwidth probe reads every byte whatever the streams and threads, and rejects buffers it cannot split. */
class ReadBandwidthTest {

    @Test
    void sumCoversEveryByteWithOneOrFourStreams() {
        int blocks = 37; // not a multiple of the thread or stream counts, so claims end mid-way and leftovers run
        long bytes = (long) blocks * ReadBandwidth.BLOCK;
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(3)) {
            MemorySegment seg = arena.allocate(bytes, 64);
            double want = 0;
            for (long i = 0; i < bytes / 4; i++) {
                float v = ((i * 7919) % 1000) * 1e-3f;
                seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                want += v;
            }
            float[] partial = new float[blocks];
            for (int streams : new int[] {1, 4}) {
                for (int pass = 0; pass < 3; pass++) { // later passes must not add blocks left from earlier ones
                    float got = ReadBandwidth.sum(seg, streams, pool, partial);
                    // 606k values in [0, 1) summed in float: relative error well under 1e-5 (pairwise within
                    // vectors, then sequential over 37 blocks); a skipped or doubled 64 KiB block moves it by 2.7 %.
                    assertEquals(want, got, want * 1e-5, "streams " + streams + ", pass " + pass);
                }
            }
        }
    }

    @Test
    void measureGivesAFiniteRate() {
        try (ThreadPool pool = new ThreadPool(2)) {
            double gbs = ReadBandwidth.measure(16L * ReadBandwidth.BLOCK, 2, pool);
            assertTrue(gbs > 0 && Double.isFinite(gbs), "rate " + gbs);
        }
    }

    @Test
    void badArgumentsNameTheParameter() {
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(1)) {
            MemorySegment odd = arena.allocate(ReadBandwidth.BLOCK + 4L);
            MemorySegment one = arena.allocate(ReadBandwidth.BLOCK);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ReadBandwidth.sum(odd, 1, pool, new float[2]))
                    .getMessage()
                    .startsWith("seg"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ReadBandwidth.sum(one, 2, pool, new float[1]))
                    .getMessage()
                    .startsWith("streams"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ReadBandwidth.sum(one, 1, pool, new float[0]))
                    .getMessage()
                    .startsWith("partial"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ReadBandwidth.measure(1000, 1, pool))
                    .getMessage()
                    .startsWith("bytes"));
            assertTrue(assertThrows(
                            IllegalArgumentException.class, () -> ReadBandwidth.measure(ReadBandwidth.BLOCK, 0, pool))
                    .getMessage()
                    .startsWith("passes"));
        }
    }
}
