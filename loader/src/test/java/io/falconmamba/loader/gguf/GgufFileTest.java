package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reader's validation, one rule per test, on files built byte by byte. */
class GgufFileTest {

    @TempDir
    Path dir;

    /** A little-endian GGUF byte image under construction. */
    static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw u32(long v) {
            out.writeBytes(ByteBuffer.allocate(4)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putInt((int) v)
                    .array());
            return this;
        }

        Raw u64(long v) {
            out.writeBytes(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(v)
                    .array());
            return this;
        }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.writeBytes(b);
            return this;
        }

        Raw bytes(int... b) {
            for (int x : b) {
                out.write(x);
            }
            return this;
        }

        /** Header: magic, version 3, counts. */
        static Raw header(long tensors, long kvs) {
            return new Raw().u32(GgufFile.MAGIC).u32(3).u64(tensors).u64(kvs);
        }

        /** A tensor info. {@code ne} in ggml order (innermost first). */
        Raw tensor(String name, int type, long offset, long... ne) {
            str(name).u32(ne.length);
            for (long d : ne) {
                u64(d);
            }
            return u32(type).u64(offset);
        }

        /** Pads to 32 and appends {@code n} data bytes. */
        Raw data(int n) {
            while (out.size() % 32 != 0) {
                out.write(0);
            }
            out.writeBytes(new byte[n]);
            return this;
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    private Path write(byte[] b) throws IOException {
        Path p = dir.resolve("t.gguf");
        Files.write(p, b);
        return p;
    }

    private String error(byte[] b) throws IOException {
        Path p = write(b);
        GgufException e =
                assertThrows(GgufException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void readsWhatTheWriterWrites() throws IOException {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "mamba")
                .putUint32("n", 7)
                .putStrings("words", List.of("a", "βγ", ""))
                .putIntegers("ids", GgufValueType.INT32, new long[] {-1, 2})
                .putBool("flag", true)
                .putFloat32("eps", 1e-5f);
        w.addTensor("x", GgmlType.F32, new long[] {2, 3}, GgufWriter.f32(new float[] {1, 2, 3, 4, 5, 6}));
        w.addTensor("y", GgmlType.F32, new long[] {1}, GgufWriter.f32(new float[] {9}));
        Path p = write(w.toBytes());
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(3, f.version());
            assertEquals("mamba", f.string("general.architecture"));
            assertEquals(7, f.integer("n", 0));
            assertEquals(List.of("a", "βγ", ""), f.strings("words"));
            assertArrayEquals(new long[] {-1, 2}, f.integers("ids"));
            assertTrue(f.bool("flag", false));
            assertEquals(1e-5f, (float) f.number("eps"));
            assertEquals(List.of("x", "y"), List.copyOf(f.tensors().keySet()));
            assertArrayEquals(new long[] {2, 3}, f.info("x").shape());
            assertArrayEquals(new float[] {4, 5, 6}, Dequantizer.row(GgmlType.F32, f.data("x"), 1, 3));
            assertEquals(0, f.info("y").offset() % 32);
            assertEquals(32, f.info("y").offset());
            GgufException wrong = assertThrows(GgufException.class, () -> f.string("n"));
            assertTrue(wrong.getMessage().contains("'n'") && wrong.getMessage().contains("UINT32"));
            assertTrue(assertThrows(GgufException.class, () -> f.string("absent"))
                    .getMessage()
                    .contains("'absent' is missing"));
        }
    }

    /**
     * A GGUF file's mapping reports its pages and what was asked of the kernel, as a safetensors file's does (the
     * fixture is small, so nothing: HugePagesTest covers the advice on a large file).
     */
    @Test
    void reportsThePagesBehindItsMapping() throws IOException {
        try (GgufWeights w = new GgufWeights(GgufFile.open(GgufFixtures.file(GgufFixtures.FALCON, "Q8_0")))) {
            assertTrue(w.file().mapping().isMapped());
            assertEquals(Files.size(w.location()), w.file().mapping().byteSize());
            String advice = w.hugePages();
            if (io.falconmamba.core.HugePages.supported()) {
                assertTrue(advice.startsWith("not asked (a small file"), advice);
                io.falconmamba.core.HugePages.Backing b = w.pageBacking().orElseThrow();
                assertEquals(w.file().mapping().byteSize(), b.bytes());
                assertTrue(
                        b.hugeBytes() <= b.residentBytes() && b.residentBytes() <= b.bytes() + (2 << 20), b.toString());
            }
        }
    }

    @Test
    void readsVersion2() throws IOException {
        GgufWriter w = new GgufWriter().putString("general.architecture", "mamba");
        w.addTensor("x", GgmlType.F32, new long[] {4}, GgufWriter.f32(new float[] {1, 2, 3, 4}));
        byte[] b = w.toBytes();
        b[4] = 2; // versions 2 and 3 share the layout
        try (GgufFile f = GgufFile.open(write(b))) {
            assertEquals(2, f.version());
            assertArrayEquals(new float[] {1, 2, 3, 4}, Dequantizer.row(GgmlType.F32, f.data("x"), 0, 4));
        }
    }

    @Test
    void tooShort() throws IOException {
        assertTrue(error(new byte[10]).contains("shorter than a GGUF header"));
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = Raw.header(0, 0).toBytes();
        b[0] = 'X';
        assertTrue(error(b).contains("bad magic"));
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] b = new Raw().u32(GgufFile.MAGIC).u32(1).u64(0).u64(0).toBytes();
        assertTrue(error(b).contains("unsupported GGUF version 1"));
        b = new Raw().u32(GgufFile.MAGIC).u32(4).u64(0).u64(0).toBytes();
        assertTrue(error(b).contains("unsupported GGUF version 4"));
        b = new Raw()
                .u32(GgufFile.MAGIC)
                .u32(Integer.reverseBytes(3))
                .u64(0)
                .u64(0)
                .toBytes();
        assertTrue(error(b).contains("big-endian"));
    }

    @Test
    void countsThatOverrunTheFile() throws IOException {
        assertTrue(error(Raw.header(1L << 40, 0).toBytes()).contains("tensor count"));
        assertTrue(error(Raw.header(0, -1).toBytes()).contains("metadata count"));
    }

    @Test
    void truncatedMetadata() throws IOException {
        byte[] b = Raw.header(0, 1).str("key").u32(4).bytes(1, 2).toBytes();
        String m = error(b);
        assertTrue(m.contains("truncated") && m.contains("'key'"), m);
    }

    @Test
    void stringLongerThanTheFile() throws IOException {
        byte[] b = Raw.header(0, 1).str("k").u32(8).u64(1L << 50).toBytes();
        String m = error(b);
        assertTrue(m.contains("metadata 'k'") && m.contains("string of"), m);
        b = Raw.header(0, 1).u64(-5).u64(0).u64(0).toBytes();
        assertTrue(error(b).contains("string of"));
    }

    @Test
    void arrayLongerThanTheFile() throws IOException {
        byte[] b = Raw.header(0, 1)
                .str("tokenizer.ggml.tokens")
                .u32(9)
                .u32(8)
                .u64(1L << 40)
                .toBytes();
        String m = error(b);
        assertTrue(m.contains("'tokenizer.ggml.tokens'") && m.contains("elements"), m);
    }

    @Test
    void unknownValueType() throws IOException {
        assertTrue(error(Raw.header(0, 1).str("k").u32(13).u32(0).toBytes()).contains("unknown value type 13"));
        assertTrue(error(Raw.header(0, 1).str("k").u32(9).u32(99).u64(0).toBytes())
                .contains("array of unknown value type 99"));
    }

    @Test
    void badBool() throws IOException {
        assertTrue(error(Raw.header(0, 1).str("b").u32(7).bytes(2).toBytes()).contains("BOOL of value 2"));
    }

    @Test
    void invalidUtf8() throws IOException {
        byte[] b = Raw.header(0, 1).u64(2).bytes(0xC3, 0x28).u32(4).u32(0).toBytes();
        assertTrue(error(b).contains("not valid UTF-8"));
    }

    @Test
    void duplicateKeyAndTensor() throws IOException {
        byte[] b =
                Raw.header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).toBytes();
        assertTrue(error(b).contains("'k' appears twice"));
        b = Raw.header(2, 0).tensor("t", 0, 0, 8).tensor("t", 0, 32, 8).data(64).toBytes();
        assertTrue(error(b).contains("tensor 't' appears twice"));
    }

    @Test
    void badAlignment() throws IOException {
        byte[] b = Raw.header(0, 1).str("general.alignment").u32(4).u32(24).toBytes();
        assertTrue(error(b).contains("not a power of two"));
        b = Raw.header(0, 1).str("general.alignment").u32(10).u64(32).toBytes();
        assertTrue(error(b).contains("must be UINT32"));
    }

    @Test
    void unknownTensorType() throws IOException {
        byte[] b = Raw.header(1, 0).tensor("w", 4, 0, 32).data(32).toBytes();
        String m = error(b);
        assertTrue(m.contains("tensor 'w'") && m.contains("unknown ggml type id 4"), m);
    }

    @Test
    void tooManyDimensions() throws IOException {
        byte[] b = Raw.header(1, 0).tensor("w", 0, 0, 1, 1, 1, 1, 1).data(4).toBytes();
        assertTrue(error(b).contains("5 dimensions"));
    }

    @Test
    void dimensionsThatOverflow() throws IOException {
        byte[] b =
                Raw.header(1, 0).tensor("w", 0, 0, 1L << 40, 1L << 40).data(4).toBytes();
        String m = error(b);
        assertTrue(m.contains("tensor 'w'") && m.contains("overflows"), m);
        // a zero dimension first does not hide the overflow of the others (rows × columns elsewhere would wrap)
        b = Raw.header(1, 0).tensor("w", 0, 0, 0, 1L << 40, 1L << 40).data(4).toBytes();
        m = error(b);
        assertTrue(m.contains("tensor 'w'") && m.contains("overflows"), m);
        b = Raw.header(1, 0).tensor("w", 0, 0, -1).data(4).toBytes();
        assertTrue(error(b).contains("too large"));
    }

    @Test
    void rowNotWholeBlocks() throws IOException {
        byte[] b = Raw.header(1, 0)
                .tensor("w", GgmlType.Q4_K.id(), 0, 128, 2)
                .data(144)
                .toBytes();
        String m = error(b);
        assertTrue(m.contains("tensor 'w'") && m.contains("not a whole number of Q4_K blocks"), m);
    }

    @Test
    void dataOutsideTheFile() throws IOException {
        byte[] b = Raw.header(1, 0).tensor("w", 0, 0, 16).data(32).toBytes();
        String m = error(b);
        assertTrue(m.contains("tensor 'w'") && m.contains("outside the data section"), m);
        b = Raw.header(1, 0).tensor("w", 0, 1L << 62, 8).data(32).toBytes();
        assertTrue(error(b).contains("outside the data section"));
    }

    @Test
    void emptyTensorInAFileThatEndsBeforeTheDataPadding() throws IOException {
        // 57 bytes: the aligned data section would start at 64, past the end; the empty tensor still reads
        byte[] b = Raw.header(1, 0).tensor("e", 0, 0, 0).toBytes();
        assertEquals(57, b.length);
        try (GgufFile f = GgufFile.open(write(b))) {
            assertEquals(0, f.data("e").byteSize());
        }
        b = Raw.header(1, 0).tensor("e", 0, 32, 0).toBytes();
        assertTrue(error(b).contains("outside the data section"));
    }

    @Test
    void misalignedOffset() throws IOException {
        byte[] b = Raw.header(1, 0).tensor("w", 0, 4, 4).data(64).toBytes();
        assertTrue(error(b).contains("not a multiple of the alignment 32"));
    }

    @Test
    void overlappingTensors() throws IOException {
        // a: 16 floats = 64 bytes at 0; b at 64 does not overlap, b at 32 does
        byte[] ok = Raw.header(2, 0)
                .tensor("a", 0, 0, 16)
                .tensor("b", 0, 64, 8)
                .data(96)
                .toBytes();
        try (GgufFile f = GgufFile.open(write(ok))) {
            assertEquals(2, f.tensors().size());
        }
        byte[] bad = Raw.header(2, 0)
                .tensor("a", 0, 0, 16)
                .tensor("b", 0, 32, 8)
                .data(96)
                .toBytes();
        String m = error(bad);
        assertTrue(m.contains("'a'") && m.contains("'b'") && m.contains("overlap"), m);
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.gguf");
        assertTrue(assertThrows(GgufException.class, () -> GgufFile.open(missing))
                .getMessage()
                .contains("no such file"));
        GgufException e = assertThrows(GgufException.class, () -> GgufFile.open(dir));
        assertTrue(e.getMessage().startsWith(dir.toString()), e.getMessage());
    }
}
