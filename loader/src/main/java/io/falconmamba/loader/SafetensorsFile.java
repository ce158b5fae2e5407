package io.falconmamba.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.HugePages;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightSource;
import io.falconmamba.core.WeightType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One {@code .safetensors} file, memory-mapped read-only as a whole (files over 2 GiB work) and read in place:
 * tensors are zero-copy views of the mapping.
 *
 * <p>The header is validated completely when the file is opened: every later access either works or throws
 * {@link SafetensorsException}. After {@link #close()} the mapping is released; this object's methods then throw
 * {@link IllegalStateException} naming the file, and so does any access through a {@link Tensor} or
 * {@link MemorySegment} obtained from it before (the memory's arena is closed).
 *
 * <p>Instances are safe to share between threads for reading; {@code close()} must not race with reads.
 */
public final class SafetensorsFile implements WeightSource, AutoCloseable {

    /** Largest header accepted, as in the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MappedFile file;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final String hugePages;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, MappedFile file, long dataStart, Header header) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.dataStart = dataStart;
        this.tensors = header.tensors();
        this.metadata = header.metadata();
        this.hugePages = HugePages.adviseWeights(file.mapping());
    }

    /**
     * Maps and validates a safetensors file.
     *
     * @throws SafetensorsException naming the file (and tensor) when it cannot be read or is not valid safetensors
     */
    public static SafetensorsFile open(Path path) {
        String label = path.toString();
        long size;
        Arena arena = Arena.ofShared();
        MappedFile mapped;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(label + ": file is " + size
                        + " bytes, shorter than the 8-byte header length prefix: not a safetensors file");
            }
            mapped = MappedFile.map(ch, size, arena);
        } catch (SafetensorsException e) {
            arena.close();
            throw e;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new SafetensorsException(label + ": no such file", e);
        } catch (AccessDeniedException e) {
            arena.close();
            throw new SafetensorsException(label + ": permission denied", e);
        } catch (IOException | UnsupportedOperationException e) {
            arena.close();
            String why = Files.isDirectory(path) ? "is a directory, not a safetensors file" : "cannot be read: " + e;
            throw new SafetensorsException(label + ": " + why, e);
        }
        MemorySegment seg = mapped.contents();
        try {
            long headerLength = seg.get(U64_LE, 0);
            if (headerLength < 0 || headerLength > size - 8) {
                throw new SafetensorsException(label + ": header length " + Long.toUnsignedString(headerLength)
                        + " is larger than the file (" + size + " bytes): truncated or not a safetensors file");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw new SafetensorsException(label + ": header length " + headerLength + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            byte[] headerBytes = seg.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
            long dataStart = 8 + headerLength;
            Header header = parseHeader(label, headerBytes, size - dataStart);
            return new SafetensorsFile(path, arena, mapped, dataStart, header);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The parsed header: tensors in the order of their data, and the free-form metadata. */
    record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    /**
     * Parses and validates a header against a data area of {@code dataLength} bytes.
     *
     * @param label names the file in messages
     */
    static Header parseHeader(String label, byte[] headerBytes, long dataLength) {
        String text;
        try {
            text = Json.decodeUtf8(headerBytes);
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(label + ": header is not valid UTF-8 (" + e.getMessage() + ")", e);
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(text);
        } catch (IOException | RuntimeException e) {
            throw new SafetensorsException(label + ": header is not valid JSON: " + firstLine(e.getMessage()), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(label + ": header must be a JSON object, got " + Json.typeOf(root));
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> list = new ArrayList<>(root.size());
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(label, e.getValue());
            } else {
                list.add(parseEntry(label, e.getKey(), e.getValue(), dataLength));
            }
        }
        checkOverlaps(label, list);
        list.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (TensorInfo t : list) {
            tensors.put(t.name(), t);
        }
        return new Header(Collections.unmodifiableMap(tensors), metadata);
    }

    private static Map<String, String> parseMetadata(String label, JsonNode node) {
        if (node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new SafetensorsException(
                    label + ": " + METADATA_KEY + " must be an object of strings, got " + Json.typeOf(node));
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(label + ": " + METADATA_KEY + " value of '" + e.getKey()
                        + "' must be a string, got " + Json.typeOf(e.getValue()));
            }
            m.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(m);
    }

    private static TensorInfo parseEntry(String label, String name, JsonNode node, long dataLength) {
        String where = label + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsException(where + ": entry must be a JSON object, got " + Json.typeOf(node));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null) {
            throw new SafetensorsException(where + ": missing field 'dtype'");
        }
        if (!dtypeNode.isTextual()) {
            throw new SafetensorsException(where + ": 'dtype' must be a string, got " + Json.typeOf(dtypeNode));
        }
        SafetensorsDType dtype = SafetensorsDType.parse(dtypeNode.textValue());
        if (dtype == null) {
            throw new SafetensorsException(where + ": unknown dtype '" + dtypeNode.textValue() + "' (known: "
                    + Arrays.toString(SafetensorsDType.values()) + ")");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null) {
            throw new SafetensorsException(where + ": missing field 'shape'");
        }
        if (!shapeNode.isArray()) {
            throw new SafetensorsException(where + ": 'shape' must be an array, got " + Json.typeOf(shapeNode));
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(where, "shape", shapeNode, i);
        }
        JsonNode offsetsNode = node.get("data_offsets");
        if (offsetsNode == null) {
            throw new SafetensorsException(where + ": missing field 'data_offsets'");
        }
        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new SafetensorsException(where
                    + ": 'data_offsets' must be an array of two non-negative integers, got " + Json.show(offsetsNode));
        }
        long begin = nonNegativeLong(where, "data_offsets", offsetsNode, 0);
        long end = nonNegativeLong(where, "data_offsets", offsetsNode, 1);
        if (begin > end) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] begin after end");
        }
        long expected;
        try {
            long elements = 1;
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
            expected = dtype.bytesFor(elements);
        } catch (ArithmeticException e) {
            throw new SafetensorsException(
                    where + ": shape " + Arrays.toString(shape) + " of " + dtype
                            + " is too large (byte size overflows 64 bits)",
                    e);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(where + ": shape " + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
        if (end - begin != expected) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expected + " bytes");
        }
        if (end > dataLength) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end
                    + "] lie outside the data area of " + dataLength + " bytes (file truncated?)");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long nonNegativeLong(String where, String field, JsonNode array, int i) {
        JsonNode v = array.get(i);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new SafetensorsException(where + ": '" + field + "' element " + i
                    + " must be a non-negative integer, got " + Json.show(v) + " in " + Json.show(array));
        }
        long x = v.longValue();
        if (x < 0) {
            throw new SafetensorsException(
                    where + ": '" + field + "' element " + i + " is negative: " + Json.show(array));
        }
        return x;
    }

    private static void checkOverlaps(String label, List<TensorInfo> list) {
        List<TensorInfo> nonEmpty = new ArrayList<>(list.size());
        for (TensorInfo t : list) {
            if (t.end() > t.begin()) {
                nonEmpty.add(t);
            }
        }
        nonEmpty.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < nonEmpty.size(); i++) {
            TensorInfo prev = nonEmpty.get(i - 1);
            TensorInfo cur = nonEmpty.get(i);
            if (cur.begin() < prev.end()) {
                throw new SafetensorsException(label + ": tensors '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end() + ") overlap");
            }
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The whole file as mapped. */
    MemorySegment mapping() {
        return file.mapping();
    }

    /** What the kernel answered to the huge-page requests for this file's mapping. */
    public String hugePages() {
        return hugePages;
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names, in the order of their data in the file. */
    public Set<String> names() {
        ensureOpen();
        return tensors.keySet();
    }

    /** Every tensor entry, in the order of their data in the file. */
    public Collection<TensorInfo> infos() {
        ensureOpen();
        return tensors.values();
    }

    /** The header's {@code __metadata__} (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public boolean contains(String name) {
        ensureOpen();
        return tensors.containsKey(name);
    }

    /**
     * The header entry of a tensor.
     *
     * @throws SafetensorsException naming the tensor and the file when absent
     */
    public TensorInfo info(String name) {
        ensureOpen();
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new SafetensorsException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /** The raw bytes of a tensor, a zero-copy read-only view of the mapping (little-endian, row-major). */
    public MemorySegment slice(String name) {
        TensorInfo t = info(name);
        return file.contents().asSlice(dataStart + t.begin(), t.byteSize());
    }

    /**
     * A tensor as the engine reads it, a zero-copy view of the mapping.
     *
     * @throws SafetensorsException naming the tensor, the file and the dtype when its dtype is not F32, F16 or BF16
     */
    @Override
    public Tensor tensor(String name) {
        TensorInfo t = info(name);
        WeightType type = t.dtype().weightType();
        if (type == null) {
            throw new SafetensorsException(path + ": tensor '" + name + "' has dtype " + t.dtype()
                    + ", which the engine does not read as weights (F32, F16 and BF16 only)");
        }
        return new Tensor(name, type, t.shape(), file.contents().asSlice(dataStart + t.begin(), t.byteSize()));
    }

    @Override
    public void released(MemorySegment data) {
        ensureOpen();
        file.release(data);
    }

    /** Size of the whole file in bytes. */
    public long fileSize() {
        return file.contents().byteSize();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Unmaps the file. Idempotent. Tensors and slices obtained from this file become unusable. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        synchronized (this) {
            if (!closed) {
                closed = true;
                arena.close();
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(path + ": safetensors file is closed");
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors" + (closed ? ", closed" : "") + "]";
    }
}
