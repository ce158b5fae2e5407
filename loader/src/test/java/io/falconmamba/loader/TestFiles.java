package io.falconmamba.loader;

import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Helpers shared by the loader tests. */
final class TestFiles {

    private TestFiles() {}

    /** The shared fixtures directory ({@code <repo>/src/test/fixtures}). */
    static Path fixtures() {
        return TestData.root().resolve("fixtures");
    }

    /** A safetensors byte image: 8-byte little-endian length, the header bytes, then the data bytes. */
    static byte[] raw(byte[] header, byte[] data) {
        return ByteBuffer.allocate(8 + header.length + data.length)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length)
                .put(header)
                .put(data)
                .array();
    }

    /** A safetensors byte image with a UTF-8 JSON header and {@code dataLength} data bytes (0, 1, 2, ...). */
    static byte[] raw(String header, int dataLength) {
        byte[] data = new byte[dataLength];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        return raw(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static Path write(Path dir, String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }
}
