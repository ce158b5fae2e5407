package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    @Test
    void roundTripF32Bf16F16AndMetadata() {
        Random rnd = new Random(7);
        float[] v = new float[6 * 5];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * 3;
        }
        v[0] = Float.NaN;
        v[1] = Float.POSITIVE_INFINITY;
        v[2] = -0f;
        v[3] = Float.MIN_VALUE;
        byte[] raw = {1, 2, 3, 4, 5, 6, 7, 8};
        Path p = dir.resolve("sub/out.safetensors");
        new SafetensorsWriter()
                .metadata("format", "pt")
                .metadata(Map.of("note", "ünïcödé"))
                .addF32("f32", new long[] {6, 5}, v)
                .addBF16("bf16", new long[] {6, 5}, v)
                .addF16("f16", new long[] {30}, v)
                .addRaw("i64", SafetensorsDType.I64, new long[] {1}, raw)
                .addF32("scalar", new long[] {}, new float[] {42f})
                .write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcödé"), f.metadata());
            assertArrayEquals(v, f.tensor("f32").toFloatArray());
            float[] b = f.tensor("bf16").toFloatArray();
            float[] h = f.tensor("f16").toFloatArray();
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(v[i])), h[i], 0f, "f16 " + i);
                if (Float.isNaN(v[i])) {
                    assertTrue(Float.isNaN(b[i]));
                } else if (Float.isFinite(v[i])
                        && Math.abs(v[i]) >= Float.MIN_NORMAL) { // relative bound: normal numbers
                    assertTrue(Math.abs(b[i] - v[i]) <= Math.scalb(Math.abs(v[i]), -8), "bf16 " + i);
                }
            }
            assertEquals(Float.POSITIVE_INFINITY, b[1]);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(b[2]));
            assertEquals(0f, b[3]); // the smallest subnormal float is far below bf16's half-ulp at 0: rounds to 0
            assertArrayEquals(raw, f.slice("i64").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(SafetensorsDType.I64, f.info("i64").dtype());
            assertArrayEquals(new long[] {30}, f.info("f16").shape());
            assertArrayEquals(new float[] {42f}, f.tensor("scalar").toFloatArray());
            // Python's order: widest dtype first, then by name; data contiguous from 0
            assertEquals(List.of("i64", "f32", "scalar", "bf16", "f16"), List.copyOf(f.names()));
            long expect = 0;
            for (TensorInfo t : f.infos()) {
                assertEquals(expect, t.begin(), t.name());
                expect = t.end();
            }
            assertEquals(f.fileSize(), 8 + headerLength(p) + expect, "no trailing bytes");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        try (var s = Files.list(p.getParent())) {
            assertEquals(1, s.count(), "no temporary file left behind");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static long headerLength(Path p) throws IOException {
        byte[] b = Files.readAllBytes(p);
        return ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    void headerPaddedWithSpacesToMultipleOf8() throws IOException {
        for (int len = 1; len < 12; len++) {
            byte[] bytes = new SafetensorsWriter()
                    .addF32("x".repeat(len), new long[] {1}, new float[] {1})
                    .toBytes();
            long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, n % 8);
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(
                    header.startsWith(
                            "{\"" + "x".repeat(len) + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"),
                    header);
            String json = header.stripTrailing();
            assertTrue(json.endsWith("}"), header);
            assertTrue(header.substring(json.length()).chars().allMatch(c -> c == ' '), "padding is spaces");
            assertTrue(header.length() - json.length() < 8, "minimal padding");
            assertEquals(bytes.length, 8 + n + 4);
        }
    }

    /**
     * The same tensors given to Python's safetensors 0.8.0 ({@code serialize(..., metadata={"format": "pt"})}) gave
     * this exact header (392 bytes: 391 of JSON and one space of padding) and data; the writer must produce the same file byte for byte.
     */
    @Test
    void sameBytesAsPythonSafetensors() {
        byte[] r = new byte[120];
        for (int i = 0; i < r.length; i++) {
            r[i] = (byte) i;
        }
        byte[] bytes = new SafetensorsWriter()
                .metadata("format", "pt")
                .addRaw("f32", SafetensorsDType.F32, new long[] {6, 5}, r)
                .addRaw("bf16", SafetensorsDType.BF16, new long[] {6, 5}, Arrays.copyOf(r, 60))
                .addRaw("f16", SafetensorsDType.F16, new long[] {30}, Arrays.copyOf(r, 60))
                .addRaw("i64", SafetensorsDType.I64, new long[] {1}, Arrays.copyOf(r, 8))
                .addRaw("scalar", SafetensorsDType.F32, new long[] {}, Arrays.copyOf(r, 4))
                .addRaw("mask", SafetensorsDType.BOOL, new long[] {3}, Arrays.copyOf(r, 3))
                .toBytes();
        String python = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"f32\":{\"dtype\":\"F32\",\"shape\":[6,5],\"data_offsets\":[8,128]},"
                + "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[128,132]},"
                + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[6,5],\"data_offsets\":[132,192]},"
                + "\"f16\":{\"dtype\":\"F16\",\"shape\":[30],\"data_offsets\":[192,252]},"
                + "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[252,255]}} ";
        assertEquals(392, python.length());
        assertEquals(
                392L,
                ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
        assertEquals(python, new String(bytes, 8, 392, StandardCharsets.UTF_8));
        assertEquals(8 + 392 + 255, bytes.length);
        assertArrayEquals(Arrays.copyOf(r, 8), Arrays.copyOfRange(bytes, 400, 408), "i64 first");
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 lies exactly halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0)
        assertEquals(1f, SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(1f + 0x1p-8f)));
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up
        assertEquals(1f + 0x1p-6f, SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(1f + 3 * 0x1p-8f)));
        // just above half rounds up
        assertEquals(1f + 0x1p-7f, SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(Math.nextUp(1f + 0x1p-8f))));
        // overflow to infinity, NaN kept
        assertEquals(Float.POSITIVE_INFINITY, SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(Float.MAX_VALUE)));
        assertTrue(Float.isNaN(SafetensorsWriter.fromBF16(SafetensorsWriter.toBF16(Float.intBitsToFloat(0x7F800001)))));
        assertEquals((short) 0x3F80, SafetensorsWriter.toBF16(1f));
    }

    @Test
    void writesOverExistingFileAndCopiesCoreTensors() throws IOException {
        Path p = dir.resolve("m.safetensors");
        Files.writeString(p, "old");
        new SafetensorsWriter().addF32("a", new long[] {2}, new float[] {1, 2}).write(p);
        Path q = dir.resolve("copy.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Tensor t = f.tensor("a");
            new SafetensorsWriter().add(t).write(q);
        }
        try (SafetensorsFile f = SafetensorsFile.open(q)) {
            assertArrayEquals(new float[] {1, 2}, f.tensor("a").toFloatArray());
            assertEquals(WeightType.F32, f.tensor("a").type());
        }
    }

    @Test
    void rejectsBadInput() {
        SafetensorsWriter w = new SafetensorsWriter().addF32("a", new long[] {1}, new float[] {1});
        assertThrows(IllegalArgumentException.class, () -> w.addF32("a", new long[] {1}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.addF32("b", new long[] {2}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.addF32("c", new long[] {-1}, new float[] {}));
        assertThrows(
                IllegalArgumentException.class, () -> w.addRaw("d", SafetensorsDType.I32, new long[] {1}, new byte[3]));
        assertThrows(IllegalArgumentException.class, () -> w.addF32("__metadata__", new long[] {1}, new float[] {1}));
    }
}
