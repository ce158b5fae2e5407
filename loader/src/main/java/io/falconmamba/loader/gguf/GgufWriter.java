package io.falconmamba.loader.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes GGUF version 3 files laid out as llama.cpp's gguf-py writes them: header, metadata in insertion order,
 * tensor infos in insertion order, padding to {@code general.alignment} (32 unless set), then each tensor's data
 * at an offset that is a multiple of the alignment, in the same order.
 *
 * <p>Tensor data are supplied lazily ({@link #addTensor(String, GgmlType, long[], Supplier)}), so a converter
 * holds one tensor's bytes at a time.
 */
public final class GgufWriter {

    private record Pending(String name, GgmlType type, long[] shape, long bytes, Supplier<MemorySegment> data) {}

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();

    /** Sets a metadata value (replacing one of the same key, keeping its place). */
    public GgufWriter put(String key, GgufValue value) {
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, new GgufValue(GgufValueType.STRING, null, value));
    }

    public GgufWriter putUint32(String key, long value) {
        if (value < 0 || value > 0xFFFFFFFFL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit UINT32");
        }
        return put(key, new GgufValue(GgufValueType.UINT32, null, value));
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, new GgufValue(GgufValueType.INT32, null, (long) value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, new GgufValue(GgufValueType.FLOAT32, null, (double) value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, new GgufValue(GgufValueType.BOOL, null, value));
    }

    public GgufWriter putStrings(String key, List<String> values) {
        return put(key, new GgufValue(GgufValueType.ARRAY, GgufValueType.STRING, List.copyOf(values)));
    }

    /** An array of integers of {@code elementType}. */
    public GgufWriter putIntegers(String key, GgufValueType elementType, long[] values) {
        if (!elementType.isInteger()) {
            throw new IllegalArgumentException(key + ": " + elementType + " is not an integer type");
        }
        List<Object> l = new ArrayList<>(values.length);
        for (long v : values) {
            l.add(v);
        }
        return put(key, new GgufValue(GgufValueType.ARRAY, elementType, l));
    }

    /** The alignment the file will use. */
    public int alignment() {
        GgufValue a = metadata.get(GgufFile.ALIGNMENT_KEY);
        return a == null ? GgufFile.DEFAULT_ALIGNMENT : (int) (long) (Long) a.value();
    }

    /**
     * Adds a tensor whose bytes {@code data} produces when the file is written.
     *
     * @param shape outermost first (row-major); written reversed, as ggml's {@code ne}
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, Supplier<MemorySegment> data) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (shape.length > 0 && shape[shape.length - 1] % type.blockSize() != 0) {
            throw new IllegalArgumentException(
                    "tensor " + name + ": rows of " + shape[shape.length - 1] + " are not whole " + type + " blocks");
        }
        for (Pending p : tensors) {
            if (p.name.equals(name)) {
                throw new IllegalArgumentException("tensor " + name + " added twice");
            }
        }
        tensors.add(new Pending(name, type, shape.clone(), type.bytesFor(n), data));
        return this;
    }

    /** Adds a tensor with its bytes at hand. */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, MemorySegment data) {
        return addTensor(name, type, shape, () -> data);
    }

    /** Writes the file to a temporary name beside {@code out}, then moves it into place. */
    public void write(Path out) throws IOException {
        Path abs = out.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName().toString(), ".part");
        try {
            try (OutputStream os = Files.newOutputStream(tmp)) {
                write(os);
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The whole file as bytes (for tests and small files). */
    public byte[] toBytes() {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try {
            write(bos);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    /** Writes the file to a stream. */
    public void write(OutputStream os) throws IOException {
        int alignment = alignment();
        Header h = new Header();
        h.u32(GgufFile.MAGIC);
        h.u32(3);
        h.u64(tensors.size());
        h.u64(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            h.string(e.getKey());
            h.u32(e.getValue().type().id());
            h.value(e.getValue());
        }
        long offset = 0;
        for (Pending t : tensors) {
            h.string(t.name);
            h.u32(t.shape.length);
            for (int d = t.shape.length - 1; d >= 0; d--) {
                h.u64(t.shape[d]);
            }
            h.u32(t.type.id());
            h.u64(offset);
            offset = pad(offset + t.bytes, alignment);
        }
        long written = h.size();
        h.writeTo(os);
        byte[] zeros = new byte[alignment];
        long aligned = pad(written, alignment);
        os.write(zeros, 0, (int) (aligned - written));
        WritableByteChannel ch = Channels.newChannel(os);
        for (Pending t : tensors) {
            MemorySegment data = t.data.get();
            if (data.byteSize() != t.bytes) {
                throw new IllegalStateException("tensor " + t.name + ": " + data.byteSize() + " bytes given, " + t.type
                        + Arrays.toString(t.shape) + " needs " + t.bytes);
            }
            ByteBuffer bb = data.asByteBuffer();
            while (bb.hasRemaining()) {
                ch.write(bb);
            }
            long end = pad(t.bytes, alignment);
            os.write(zeros, 0, (int) (end - t.bytes));
        }
        os.flush();
    }

    private static long pad(long x, int alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    /** Little-endian encoding of the header. */
    private static final class Header extends ByteArrayOutputStream {
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void u32(long v) {
            scratch.clear();
            scratch.putInt((int) v);
            write(scratch.array(), 0, 4);
        }

        void u64(long v) {
            scratch.clear();
            scratch.putLong(v);
            write(scratch.array(), 0, 8);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            write(b, 0, b.length);
        }

        void value(GgufValue v) {
            if (v.type() == GgufValueType.ARRAY) {
                u32(v.elementType().id());
                u64(v.list().size());
                for (Object o : v.list()) {
                    if (v.elementType() == GgufValueType.ARRAY) {
                        GgufValue inner = (GgufValue) o;
                        value(inner);
                    } else {
                        scalar(v.elementType(), o);
                    }
                }
            } else {
                scalar(v.type(), v.value());
            }
        }

        void scalar(GgufValueType type, Object o) {
            switch (type) {
                case UINT8, INT8 -> write((int) (long) (Long) o);
                case UINT16, INT16 -> {
                    long x = (Long) o;
                    write((int) (x & 0xFF));
                    write((int) ((x >> 8) & 0xFF));
                }
                case UINT32, INT32 -> u32((Long) o);
                case UINT64, INT64 -> u64((Long) o);
                case FLOAT32 -> u32(Float.floatToRawIntBits((float) (double) (Double) o));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) o));
                case BOOL -> write(((Boolean) o) ? 1 : 0);
                case STRING -> string((String) o);
                case ARRAY -> throw new IllegalStateException("nested array values are written by value()");
            }
        }
    }

    /** A segment holding {@code floats} as little-endian F32 (for small tensors built in memory). */
    public static MemorySegment f32(float[] floats) {
        MemorySegment s = MemorySegment.ofArray(new byte[floats.length * 4]);
        for (int i = 0; i < floats.length; i++) {
            s.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, floats[i]);
        }
        return s;
    }
}
