package io.falconmamba.loader;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a safetensors file from named tensors held in memory (for tests, conversions and small models).
 *
 * <p>The layout follows Python's {@code safetensors}: a compact JSON header with {@code __metadata__} first,
 * padded with spaces so the data starts at a multiple of 8; tensors laid out contiguously, sorted by dtype
 * (widest first, in the reference implementation's dtype order) then by name.
 *
 * <p>Float conversions: BF16 rounds to nearest, ties to even (NaN stays NaN); F16 uses
 * {@link Float#floatToFloat16(float)} (also round-to-nearest-even).
 */
public final class SafetensorsWriter {

    private record Entry(String name, SafetensorsDType dtype, long[] shape, byte[] bytes) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a {@code __metadata__} entry. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(requireNonNull(key, "metadata key"), requireNonNull(value, "metadata value"));
        return this;
    }

    /** Adds every entry of {@code m} to {@code __metadata__}. */
    public SafetensorsWriter metadata(Map<String, String> m) {
        m.forEach(this::metadata);
        return this;
    }

    /** Adds a float32 tensor. */
    public SafetensorsWriter addF32(String name, long[] shape, float[] values) {
        return add(name, WeightType.F32, shape, values);
    }

    /** Adds a bfloat16 tensor, rounding each value to nearest even. */
    public SafetensorsWriter addBF16(String name, long[] shape, float[] values) {
        return add(name, WeightType.BF16, shape, values);
    }

    /** Adds a float16 tensor, converting with {@link Float#floatToFloat16(float)}. */
    public SafetensorsWriter addF16(String name, long[] shape, float[] values) {
        return add(name, WeightType.F16, shape, values);
    }

    /** Adds a tensor of floats stored as {@code type}. */
    public SafetensorsWriter add(String name, WeightType type, long[] shape, float[] values) {
        long n = elements(name, shape);
        if (n != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " holds " + n
                    + " elements, got " + values.length + " values");
        }
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, type.bytes()))
                .order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (float v : values) {
                    b.putFloat(v);
                }
            }
            case BF16 -> {
                for (float v : values) {
                    b.putShort(toBF16(v));
                }
            }
            case F16 -> {
                for (float v : values) {
                    b.putShort(Float.floatToFloat16(v));
                }
            }
        }
        return put(new Entry(name, SafetensorsDType.of(type), shape.clone(), b.array()));
    }

    /** Adds a tensor of any dtype from its raw little-endian bytes (copied). */
    public SafetensorsWriter addRaw(String name, SafetensorsDType dtype, long[] shape, byte[] bytes) {
        long n = elements(name, shape);
        long need;
        try {
            need = dtype.bytesFor(n);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "tensor '" + name + "': shape " + Arrays.toString(shape) + " is too large", e);
        }
        if (need != bytes.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + need + " bytes, got " + bytes.length);
        }
        return put(new Entry(name, dtype, shape.clone(), bytes.clone()));
    }

    /** Adds a copy of a core tensor, bytes as they are. */
    public SafetensorsWriter add(Tensor t) {
        return addRaw(
                t.name(), SafetensorsDType.of(t.type()), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE));
    }

    private SafetensorsWriter put(Entry e) {
        if (e.name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("'" + SafetensorsFile.METADATA_KEY + "' is reserved, not a tensor name");
        }
        if (entries.putIfAbsent(e.name, e) != null) {
            throw new IllegalArgumentException("tensor '" + e.name + "' added twice");
        }
        return this;
    }

    private static long elements(String name, long[] shape) {
        requireNonNull(name, "tensor name");
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static <T> T requireNonNull(T v, String what) {
        if (v == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
        return v;
    }

    /** float → bfloat16 bits, round to nearest, ties to even; NaN stays a (quiet) NaN of the same sign. */
    public static short toBF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** bfloat16 bits → float (exact). */
    public static float fromBF16(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    // ---------------------------------------------------------------------------------------------------------

    private List<Entry> ordered() {
        List<Entry> list = new ArrayList<>(entries.values());
        list.sort(Comparator.comparingInt((Entry e) -> -e.dtype.ordinal()).thenComparing(Entry::name));
        return list;
    }

    private byte[] header(List<Entry> order) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Entry e : order) {
            ObjectNode t = root.putObject(e.name);
            t.put("dtype", e.dtype.name());
            ArrayNode s = t.putArray("shape");
            for (long d : e.shape) {
                s.add(d);
            }
            ArrayNode o = t.putArray("data_offsets");
            o.add(offset);
            offset += e.bytes.length;
            o.add(offset);
        }
        byte[] json;
        try {
            json = Json.MAPPER.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write safetensors header", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] h = Arrays.copyOf(json, padded);
        Arrays.fill(h, json.length, padded, (byte) ' ');
        return h;
    }

    private void writeTo(OutputStream out) throws IOException {
        List<Entry> order = ordered();
        byte[] header = header(order);
        out.write(ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length)
                .array());
        out.write(header);
        for (Entry e : order) {
            out.write(e.bytes);
        }
    }

    /** The whole file as bytes. */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Writes the file atomically: to a temporary file in the same directory, flushed to disk, then moved over
     * {@code target}. A failure leaves {@code target} as it was.
     *
     * @throws SafetensorsException naming the target when writing fails
     */
    public void write(Path target) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            try (FileChannel ch =
                    FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream out = Channels.newOutputStream(ch);
                writeTo(out);
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new SafetensorsException(target + ": cannot write safetensors file: " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }
}
