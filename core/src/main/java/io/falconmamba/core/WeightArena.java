package io.falconmamba.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The shared arena for weights copied or quantized at load. Its large allocations (2 MiB or more) are anonymous
 * mappings ({@link HugePages#allocate}): the kernel hands them out zeroed page by page as the loader's threads
 * first write them, where {@link Arena#ofShared()} zeroes the whole block on one thread up front. With the system
 * property {@code falconmamba.hugePageCopies=true} they are also advised into 2 MiB pages before the first write;
 * that is off by default because faulting huge pages in can cost several times more than 4 KiB pages (on a
 * loaded virtual machine: 2 GB in 20 s against 5 s). Smaller allocations, and all of them where mappings are
 * unavailable, come from {@link Arena#ofShared()}. Everything is freed when the arena closes.
 */
final class WeightArena implements Arena {

    private static final boolean HUGE = Boolean.getBoolean("falconmamba.hugePageCopies");

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> large = new ArrayList<>();

    @Override
    public synchronized MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize >= HugePages.SIZE && byteAlignment <= HugePages.SIZE) {
            MemorySegment seg =
                    HugePages.allocate(byteSize, HUGE, arena).orElseGet(() -> arena.allocate(byteSize, byteAlignment));
            large.add(seg);
            return seg;
        }
        return arena.allocate(byteSize, byteAlignment);
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
