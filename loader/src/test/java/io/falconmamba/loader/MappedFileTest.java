package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native view of a mapped file that kernels read, and page release through the mapping. */
class MappedFileTest {

    @TempDir
    Path dir;

    private Path bytes(int n) throws IOException {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return Files.write(dir.resolve("bytes.bin"), b);
    }

    @Test
    void contentsAreTheMappedBytesAsAPlainNativeSegment() throws IOException {
        Path p = bytes(3 * 4096 + 17);
        try (Arena arena = Arena.ofShared();
                FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            MappedFile f = MappedFile.map(ch, ch.size(), arena);
            assertTrue(f.mapping().isMapped());
            // Not the mapping's class: the kernels' JIT profiles see native segments only.
            assertFalse(f.contents().isMapped());
            assertTrue(f.contents().isNative());
            assertTrue(f.contents().isReadOnly());
            assertEquals(f.mapping().address(), f.contents().address());
            assertEquals(Files.size(p), f.contents().byteSize());
            assertArrayEquals(Files.readAllBytes(p), f.contents().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void releasedPagesReadTheSameBytesAgain() throws IOException {
        Path p = bytes(5 * 4096);
        byte[] expected = Files.readAllBytes(p);
        try (Arena arena = Arena.ofShared();
                FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            MappedFile f = MappedFile.map(ch, ch.size(), arena);
            MemorySegment slice = f.contents().asSlice(4096, 2 * 4096);
            assertTrue(f.holds(slice));
            f.release(slice);
            assertArrayEquals(expected, f.contents().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    @SuppressWarnings("restricted") // a segment one byte longer than the file, at its address
    void holdsOnlyItsOwnBytes() throws IOException {
        Path p = bytes(4096);
        try (Arena arena = Arena.ofShared();
                FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            MappedFile f = MappedFile.map(ch, ch.size(), arena);
            MemorySegment other = arena.allocate(64);
            assertFalse(f.holds(other));
            f.release(other); // another segment's pages are not touched
            other.set(ValueLayout.JAVA_BYTE, 0, (byte) 5);
            assertEquals(5, other.get(ValueLayout.JAVA_BYTE, 0));
            assertFalse(f.holds(f.contents().asSlice(0, 0).reinterpret(4097)));
        }
    }

    @Test
    void safetensorsTensorsAreNativeViewsThatCloseWithTheFile() throws IOException {
        Path p = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .addF32("w", new long[] {2, 2}, new float[] {1, 2, 3, 4})
                .write(p);
        SafetensorsFile file = SafetensorsFile.open(p);
        Tensor t = file.tensor("w");
        assertFalse(t.data().isMapped());
        assertEquals(3f, t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8));
        file.released(t.data());
        assertEquals(
                4f, t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 12));
        file.close();
        assertThrows(IllegalStateException.class, () -> t.data().get(ValueLayout.JAVA_BYTE, 0));
    }
}
