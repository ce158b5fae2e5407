package io.falconmamba.loader;

import static io.falconmamba.loader.TestFiles.raw;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One crafted file per validation rule of {@link SafetensorsFile#open(Path)}. */
class SafetensorsFileTest {

    @TempDir
    Path dir;

    private Path file(byte[] bytes) throws IOException {
        return TestFiles.write(dir, "crafted.safetensors", bytes);
    }

    /** Opens a crafted file expecting failure; asserts the message names the file and contains each fragment. */
    private SafetensorsException fails(byte[] bytes, String... fragments) throws IOException {
        Path p = file(bytes);
        SafetensorsException e = assertThrows(
                SafetensorsException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), () -> "message does not name the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message lacks '" + f + "': " + e.getMessage());
        }
        return e;
    }

    private SafetensorsException failsHeader(String header, int dataLength, String... fragments) throws IOException {
        return fails(raw(header, dataLength), fragments);
    }

    @Test
    void readsAValidFile() throws IOException {
        String h = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[0,4]},"
                + "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[12,12]},"
                + "\"scalar\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[12,14]}}";
        byte[] data = ByteBuffer.allocate(14)
                .order(ByteOrder.LITTLE_ENDIAN)
                .put(new byte[] {1, 2, 3, 4})
                .putFloat(1.5f)
                .putFloat(-2f)
                .putShort((short) 0x3F80)
                .array();
        Path p = file(raw(h.getBytes(StandardCharsets.UTF_8), data));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("a", "b", "empty", "scalar"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt"), f.metadata());
            TensorInfo b = f.info("b");
            assertEquals(SafetensorsDType.F32, b.dtype());
            assertArrayEquals(new long[] {2}, b.shape());
            Tensor t = f.tensor("b");
            assertEquals(WeightType.F32, t.type());
            assertArrayEquals(new float[] {1.5f, -2f}, t.toFloatArray());
            assertArrayEquals(new float[] {1f}, f.tensor("scalar").toFloatArray());
            assertEquals(0, f.tensor("empty").size());
            MemorySegment s = f.slice("a");
            assertEquals(4, s.byteSize());
            assertEquals(3, s.get(ValueLayout.JAVA_BYTE, 2));
            assertTrue(s.isReadOnly());
            SafetensorsException notFloat = assertThrows(SafetensorsException.class, () -> f.tensor("a"));
            assertTrue(
                    notFloat.getMessage().contains("'a'")
                            && notFloat.getMessage().contains("U8")
                            && notFloat.getMessage().contains(p.toString()),
                    notFloat.getMessage());
            SafetensorsException missing = assertThrows(SafetensorsException.class, () -> f.info("nope"));
            assertTrue(missing.getMessage().contains("'nope'")
                    && missing.getMessage().contains(p.toString()));
            assertFalse(f.contains("nope"));
        }
    }

    @Test
    void useAfterCloseFailsCleanly() throws IOException {
        Path p = file(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        SafetensorsFile f = SafetensorsFile.open(p);
        Tensor t = f.tensor("x");
        MemorySegment s = f.slice("x");
        t.get(1);
        f.close();
        f.close(); // idempotent
        assertTrue(f.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.tensor("x"));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> f.names());
        // views handed out before close: the arena is closed, FFM refuses the access (no crash)
        assertThrows(IllegalStateException.class, () -> t.get(1));
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0));
    }

    /** A sparse file over 2 GiB: one mapping, offsets beyond 2^31 (costs no disk on file systems with holes). */
    @Test
    void filesOver2GiB() throws IOException {
        long filler = (1L << 31) + 16;
        String h = "{\"filler\":{\"dtype\":\"U8\",\"shape\":[" + filler + "],\"data_offsets\":[0," + filler + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + filler + "," + (filler + 8) + "]}}";
        byte[] header = h.getBytes(StandardCharsets.UTF_8);
        Path p = dir.resolve("big.safetensors");
        long dataStart = 8 + header.length;
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(header.length)
                    .array());
            f.write(header);
            f.seek(dataStart + filler);
            f.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(3.5f)
                    .putFloat(-1f)
                    .array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(dataStart + filler + 8, f.fileSize());
            assertEquals(filler, f.slice("filler").byteSize());
            assertEquals(0, f.slice("filler").get(ValueLayout.JAVA_BYTE, filler - 1));
            assertArrayEquals(new float[] {3.5f, -1f}, f.tensor("tail").toFloatArray());
        } finally {
            java.nio.file.Files.deleteIfExists(p);
        }
    }

    @Test
    void missingFileAndDirectory() throws IOException {
        Path p = dir.resolve("absent.safetensors");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("no such file"), e.getMessage());
        SafetensorsException d = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(dir));
        assertTrue(d.getMessage().contains(dir.toString()), d.getMessage());
    }

    @Test
    void fileShorterThan8Bytes() throws IOException {
        fails(new byte[0], "0 bytes", "shorter than");
        fails(new byte[] {1, 0, 0, 0, 0, 0, 0}, "7 bytes", "shorter than");
    }

    @Test
    void headerLongerThanFile() throws IOException {
        byte[] b = raw("{}", 0);
        b[0] = 3; // claims 3 bytes; there are 2
        fails(b, "header length 3", "larger than the file");
        byte[] huge = raw("{}", 0);
        for (int i = 0; i < 8; i++) {
            huge[i] = (byte) 0xFF; // u64 max: negative as a Java long
        }
        fails(huge, "header length 18446744073709551615", "larger than the file");
    }

    @Test
    void headerOver100MB() throws IOException {
        Path p = dir.resolve("big.safetensors");
        long headerLength = SafetensorsFile.MAX_HEADER_BYTES + 1;
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(8 + headerLength + 16); // sparse: costs no disk
            f.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(headerLength)
                    .array());
        }
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p));
        assertTrue(
                e.getMessage().contains(p.toString()) && e.getMessage().contains("exceeds the limit"), e.getMessage());
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] bad = {'{', '"', (byte) 0xC3, 0x28, '"', ':', '{', '}', '}'}; // invalid continuation byte
        fails(raw(bad, new byte[0]), "not valid UTF-8");
        byte[] overlong = {'{', '"', (byte) 0xC0, (byte) 0xAF, '"', ':', '{', '}', '}'};
        fails(raw(overlong, new byte[0]), "not valid UTF-8");
        byte[] surrogate = {'{', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', ':', '{', '}', '}'};
        fails(raw(surrogate, new byte[0]), "not valid UTF-8");
    }

    @Test
    void headerNotJsonOrNotObject() throws IOException {
        failsHeader("{\"a\":", 0, "not valid JSON");
        failsHeader("", 0, "must be a JSON object");
        failsHeader("[1,2]", 0, "must be a JSON object", "an array");
        failsHeader("{} {}", 0, "not valid JSON");
        failsHeader(
                "{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                        + "\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                4,
                "not valid JSON",
                "Duplicate");
    }

    @Test
    void entryNotObjectOrMissingFields() throws IOException {
        failsHeader("{\"w\":[1,2]}", 0, "'w'", "must be a JSON object");
        failsHeader("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'w'", "missing field 'dtype'");
        failsHeader("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "'w'", "missing field 'shape'");
        failsHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'w'", "missing field 'data_offsets'");
        failsHeader("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'w'", "'dtype' must be a string");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "'w'", "'shape' must be an array");
    }

    @Test
    void unknownDtype() throws IOException {
        failsHeader(
                "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}",
                16,
                "'w'",
                "unknown dtype 'F128'");
        failsHeader(
                "{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'w'", "unknown dtype 'f32'");
    }

    @Test
    void badShape() throws IOException {
        failsHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "'w'", "negative");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
                4,
                "'w'",
                "non-negative integer",
                "1.5");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
                8,
                "'w'",
                "non-negative integer");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}",
                8,
                "'w'",
                "non-negative integer");
    }

    @Test
    void badDataOffsets() throws IOException {
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
                4,
                "'w'",
                "two non-negative integers");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
                8,
                "'w'",
                "two non-negative integers");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, "'w'", "two non-negative integers");
        failsHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "'w'", "negative");
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, "'w'", "non-negative integer");
        failsHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "'w'", "begin after end");
    }

    @Test
    void byteLengthDisagreesWithShape() throws IOException {
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}",
                24,
                "'w'",
                "hold 20 bytes",
                "[2, 3]",
                "needs 24 bytes");
        failsHeader("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12, "'w'", "needs 6 bytes");
        // 2^62 × 2^62 elements overflow a long before the size is compared
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],\"data_offsets\":[0,4]}}",
                4,
                "'w'",
                "too large");
        // 2^62 elements fit, 2^62 × 4 bytes do not
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}",
                4,
                "'w'",
                "too large");
        // sub-byte dtype that does not fill whole bytes
        failsHeader(
                "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "'w'", "whole number of bytes");
    }

    @Test
    void offsetsOutsideDataArea() throws IOException {
        failsHeader(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                7,
                "'w'",
                "outside the data area of 7 bytes");
        failsHeader(
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,9223372036854775807]}}",
                4,
                "'w'",
                "outside the data area");
    }

    @Test
    void overlappingTensors() throws IOException {
        failsHeader(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12,
                "'a'",
                "'b'",
                "overlap");
        failsHeader(
                "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
                8,
                "overlap");
    }

    @Test
    void badMetadata() throws IOException {
        failsHeader("{\"__metadata__\":{\"n\":3}}", 0, "__metadata__", "'n'", "must be a string");
        failsHeader("{\"__metadata__\":[\"x\"]}", 0, "__metadata__", "must be an object");
    }

    @Test
    void allDtypesParse() throws IOException {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        for (SafetensorsDType t : SafetensorsDType.values()) {
            long bytes = t.bytesFor(8);
            h.append(off == 0 ? "" : ",")
                    .append('"')
                    .append(t)
                    .append("\":{\"dtype\":\"")
                    .append(t)
                    .append("\",\"shape\":[2,4],\"data_offsets\":[")
                    .append(off)
                    .append(',')
                    .append(off + bytes)
                    .append("]}");
            off += bytes;
        }
        h.append('}');
        Path p = file(raw(h.toString(), (int) off));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            for (SafetensorsDType t : SafetensorsDType.values()) {
                assertEquals(t, f.info(t.name()).dtype());
                assertEquals(t.bytesFor(8), f.slice(t.name()).byteSize());
                if (t.weightType() == null) {
                    assertThrows(SafetensorsException.class, () -> f.tensor(t.name()));
                } else {
                    assertEquals(8, f.tensor(t.name()).size());
                }
            }
        }
    }
}
