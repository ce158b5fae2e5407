package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HugePagesTest {

    private static final long MIB = 1L << 20;

    @Test
    void mappedAllocationsAreZeroedAlignedAndFreedWithTheArena() {
        assumeTrue(HugePages.supported(), "mmap/madvise through FFM exist on Linux only");
        Arena arena = Arena.ofShared();
        MemorySegment seg = HugePages.allocate(3 * MIB + 5, false, arena).orElseThrow();
        assertEquals(3 * MIB + 5, seg.byteSize());
        assertEquals(0, seg.address() % HugePages.SIZE, "starts on a huge page");
        for (long o = 0; o < seg.byteSize(); o += 4093) {
            assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, o));
        }
        seg.set(ValueLayout.JAVA_LONG, 8, 42L);
        assertEquals(42L, seg.get(ValueLayout.JAVA_LONG, 8));
        arena.close();
        assertFalse(seg.scope().isAlive());
    }

    @Test
    void backingCountsWhatTheProcessTouched() {
        assumeTrue(HugePages.supported(), "/proc/self/smaps exists on Linux only");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = HugePages.allocate(8 * MIB, false, arena).orElseThrow();
            HugePages.Backing before = HugePages.backing(seg).orElseThrow();
            assertEquals(8 * MIB, before.bytes());
            assertEquals(0, before.residentBytes(), "an untouched anonymous mapping has no pages");
            for (long o = 0; o < 4 * MIB; o += 4096) {
                seg.set(ValueLayout.JAVA_BYTE, o, (byte) 1);
            }
            HugePages.Backing after = HugePages.backing(seg).orElseThrow();
            // The mapping may hold up to one more huge page than asked (its alignment slack) but no more.
            assertTrue(
                    after.residentBytes() >= 4 * MIB && after.residentBytes() <= 8 * MIB + HugePages.SIZE,
                    after::toString);
            assertTrue(after.hugeBytes() <= after.residentBytes());
        }
    }

    @Test
    void adviceOnASegmentSmallerThanAHugePageSaysSo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(4096);
            String answer = HugePages.adviseHuge(small);
            assertTrue(answer.equals("smaller than one huge page") || answer.startsWith("not supported on"), answer);
        }
    }

    @Test
    void collapseAnswersOkOrWhyNot() {
        assumeTrue(HugePages.supported(), "madvise exists on Linux only");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = HugePages.allocate(4 * MIB, false, arena).orElseThrow();
            seg.fill((byte) 7);
            // Anonymous memory collapses on Linux 6.1+; older kernels answer EINVAL. Either way: an answer, no throw.
            String answer = HugePages.collapse(seg);
            assertTrue(answer.equals("ok") || answer.contains("EINVAL") || answer.contains("errno"), answer);
            assertEquals(7, seg.get(ValueLayout.JAVA_BYTE, 4 * MIB - 1), "collapsing keeps the contents");
        }
    }

    @Test
    void weightArenaServesSmallAndLargeAllocationsAndReportsTheLargeOnes() {
        WeightArena arena = new WeightArena();
        MemorySegment small = arena.allocate(100, 64);
        MemorySegment large = arena.allocate(3 * MIB, 64);
        assertEquals(0, small.address() % 64);
        assertEquals(0, large.address() % 64);
        large.set(ValueLayout.JAVA_INT, 3 * MIB - 4, 5);
        if (HugePages.supported()) {
            assertEquals(3 * MIB, arena.backing().orElseThrow().bytes(), "only the large allocation is tracked");
        }
        arena.close();
        assertFalse(small.scope().isAlive());
        assertFalse(large.scope().isAlive());
    }

    @TempDir
    Path dir;

    @Test
    void freeHugeBytesCountsTheFreeBlocksOf2MiBAndLarger() throws Exception {
        // A two-core VM's buddyinfo: free blocks per order 0..10 (4 KiB .. 4 MiB) per zone.
        Path buddyinfo = dir.resolve("buddyinfo");
        Files.writeString(buddyinfo, """
                Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3
                Node 0, zone    DMA32      2      4      2      2      1      2      0      3      3      1    753
                Node 0, zone   Normal   3476   3151   2633   2053   1551    968    778    479    330    354   1158
                """);
        // order 9 (2 MiB): 1 + 1 + 354 blocks; order 10 (4 MiB): 3 + 753 + 1158 blocks.
        assertEquals((356 * 2 + 1914 * 4) * MIB, HugePages.freeHugeBytes(buddyinfo));
        Files.writeString(buddyinfo, "Node 0, zone Normal 1 2 x\n");
        assertEquals(-1, HugePages.freeHugeBytes(buddyinfo), "a malformed count is unknown, not zero");
        assertEquals(-1, HugePages.freeHugeBytes(dir.resolve("missing")));
    }

    @Test
    void weightArenaAdvisesHugePagesOnlyWithinItsBudget() {
        try (WeightArena arena = new WeightArena(5 * MIB)) {
            arena.allocate(3 * MIB, 64);
            assertEquals(2 * MIB, arena.hugeBudget(), "the first allocation fits and is counted");
            arena.allocate(3 * MIB, 64);
            assertEquals(2 * MIB, arena.hugeBudget(), "the second does not fit and stays in small pages");
            arena.allocate(100, 64);
            assertEquals(2 * MIB, arena.hugeBudget(), "small allocations do not count");
        }
        try (WeightArena unlimited = new WeightArena(Long.MAX_VALUE)) {
            unlimited.allocate(3 * MIB, 64);
            assertEquals(Long.MAX_VALUE, unlimited.hugeBudget());
        }
    }

    @Test
    void weightFilesAreAdvisedFromTheCopyThresholdOn() throws Exception {
        assumeTrue(HugePages.supported(), "madvise exists on Linux only");
        Path big = dir.resolve("big.bin");
        Path small = dir.resolve("small.bin");
        try (var f = java.nio.channels.FileChannel.open(
                big, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.wrap(new byte[] {1}), WeightStorage.MIN_COPY - 1); // sparse: no disk used
        }
        Files.write(small, new byte[(int) HugePages.SIZE * 2]);
        try (Arena arena = Arena.ofShared();
                var bf = java.nio.channels.FileChannel.open(big);
                var sf = java.nio.channels.FileChannel.open(small)) {
            MemorySegment bigMap = bf.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, bf.size(), arena);
            MemorySegment smallMap = sf.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, sf.size(), arena);
            String advice = HugePages.adviseWeights(bigMap);
            assertTrue(advice.startsWith("MADV_HUGEPAGE"), advice);
            assertTrue(HugePages.adviseWeights(smallMap).startsWith("not asked (a small file"));
            assertEquals(1, bigMap.get(ValueLayout.JAVA_BYTE, WeightStorage.MIN_COPY - 1), "advice keeps the contents");
        }
    }
}
