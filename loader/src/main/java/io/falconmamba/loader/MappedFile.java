package io.falconmamba.loader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/**
 * A file mapped read-only as a whole, and the view of it that tensors are cut from.
 *
 * <p>{@link #contents} is the same memory as {@link #mapping} with the same lifetime, but a plain native segment:
 * the JDK gives a file mapping a class of its own, and the Vector API's loads are shared code whose JIT profiles
 * record the segment classes they meet. One mapped segment among the copied weights' native ones makes those
 * profiles bimorphic, C2 then inlines both paths at every load of a kernel, reaches its node limit part-way through
 * the kernel and leaves the rest as calls that box every vector: decode at a quarter of its speed, in some runs and
 * not others. Kernels therefore only ever see native segments. {@link #mapping} keeps what is particular to a
 * mapping: {@link MemorySegment#unload} ({@link #release}) and the huge-page advice.
 *
 * @param mapping the file as {@link FileChannel#map} returns it
 * @param contents the same bytes as a native segment of the same arena
 */
public record MappedFile(MemorySegment mapping, MemorySegment contents) {

    /** Maps {@code size} bytes of {@code channel} read-only into {@code arena}. */
    @SuppressWarnings("restricted") // reinterpret: the same address, size and arena as the mapping it views
    public static MappedFile map(FileChannel channel, long size, Arena arena) throws IOException {
        MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        return new MappedFile(mapping, mapping.reinterpret(size));
    }

    /** Whether {@code slice} lies within {@link #contents}. */
    public boolean holds(MemorySegment slice) {
        long start = slice.address() - contents.address();
        return start >= 0 && start <= contents.byteSize() - slice.byteSize();
    }

    /**
     * Drops the pages under {@code slice} (a slice of {@link #contents}) from this process's mapping; they stay in
     * the page cache, and a later read maps them again. Does nothing for a slice of another file.
     */
    public void release(MemorySegment slice) {
        if (holds(slice)) {
            mapping.asSlice(slice.address() - contents.address(), slice.byteSize())
                    .unload();
        }
    }
}
