package io.falconmamba.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A shared arena whose large allocations (a huge page or more) are anonymous mappings advised into 2 MiB pages
 * ({@link HugePages#allocate}); smaller ones, and all of them where that is unavailable, come from
 * {@link Arena#ofShared()}. Everything is freed when the arena closes.
 */
final class HugePageArena implements Arena {

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> large = new ArrayList<>();

    @Override
    public synchronized MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize >= HugePages.SIZE && byteAlignment <= HugePages.SIZE) {
            MemorySegment seg =
                    HugePages.allocate(byteSize, arena).orElseGet(() -> arena.allocate(byteSize, byteAlignment));
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
