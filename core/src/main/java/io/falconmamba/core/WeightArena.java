package io.falconmamba.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The shared arena for weights copied or quantized at load. Its large allocations (2 MiB or more) are anonymous
 * mappings ({@link HugePages#allocate}): the kernel hands them out zeroed page by page as the loader's threads
 * first write them, where {@link Arena#ofShared()} zeroes the whole block on one thread up front.
 *
 * <p>They are advised into 2 MiB pages before the first write while the kernel has free 2 MiB blocks for them
 * ({@link HugePages#freeHugeBytes}, counted down per allocation, an eighth kept back for everything else): decode
 * streams every weight per token, and faulting 2 GB in as 4 KiB pages costs several seconds on a virtual machine
 * where 2 MiB pages take under one. Without free blocks a huge-page fault compacts memory first, which costs more
 * than it saves, so the rest stays in 4 KiB pages. The system property {@code falconmamba.hugePageCopies}
 * ({@code true} or {@code false}) overrides the budget either way. Smaller allocations, and all of them where
 * mappings are unavailable, come from {@link Arena#ofShared()}. Everything is freed when the arena closes.
 */
final class WeightArena implements Arena {

    /** "true", "false", or anything else (unset): decided by the free 2 MiB blocks. */
    private static final String HUGE = System.getProperty("falconmamba.hugePageCopies");

    /** Bytes still to advise into huge pages; -1 until the first large allocation reads the free blocks. */
    private long hugeBudget;

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> large = new ArrayList<>();

    WeightArena() {
        this("true".equalsIgnoreCase(HUGE) ? Long.MAX_VALUE : "false".equalsIgnoreCase(HUGE) ? 0 : -1);
    }

    /** With a fixed budget of bytes to advise into huge pages (-1: read the free blocks at the first allocation). */
    WeightArena(long hugeBudget) {
        this.hugeBudget = hugeBudget;
    }

    @Override
    public synchronized MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize >= HugePages.SIZE && byteAlignment <= HugePages.SIZE) {
            boolean huge = takeHugeBudget(byteSize);
            MemorySegment seg =
                    HugePages.allocate(byteSize, huge, arena).orElseGet(() -> arena.allocate(byteSize, byteAlignment));
            large.add(seg);
            return seg;
        }
        return arena.allocate(byteSize, byteAlignment);
    }

    /** Whether an allocation of {@code bytes} goes into huge pages, counting it against the budget if so. */
    private boolean takeHugeBudget(long bytes) {
        if (hugeBudget < 0) {
            long free = HugePages.freeHugeBytes();
            hugeBudget = free < 0 ? 0 : free - free / 8;
        }
        if (bytes > hugeBudget) {
            return false;
        }
        if (hugeBudget != Long.MAX_VALUE) {
            hugeBudget -= bytes;
        }
        return true;
    }

    /** Bytes still to advise into huge pages (for tests). */
    synchronized long hugeBudget() {
        return hugeBudget;
    }

    /** The pages behind the large allocations (see {@link HugePages#backing}). */
    synchronized Optional<HugePages.Backing> backing() {
        return HugePages.backing(List.copyOf(large));
    }

    @Override
    public MemorySegment.Scope scope() {
        return arena.scope();
    }

    @Override
    public void close() {
        arena.close();
    }
}
