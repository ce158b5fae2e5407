package io.falconmamba.loader.gguf;

import io.falconmamba.core.HugePages;
import io.falconmamba.loader.MappedFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One GGUF file (versions 2 and 3, little-endian), memory-mapped read-only as a whole and read in place: tensor
 * data are zero-copy views of the mapping.
 *
 * <p>The header (metadata and tensor infos) is validated completely when the file is opened; every count and
 * length is checked against the bytes left before anything is allocated from it. Afterwards every access either
 * works or throws {@link GgufException} naming the file and the key or tensor. After {@link #close()} the mapping
 * is released and segments obtained from it become unusable.
 *
 * <p>Instances are safe to share between threads for reading; {@code close()} must not race with reads.
 */
public final class GgufFile implements AutoCloseable {

    /** "GGUF" read as a little-endian u32. */
    public static final int MAGIC = 0x46554747;

    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMS = 4;
    /** Arrays of arrays deeper than this are refused (the format allows nesting; no writer uses more than one). */
    static final int MAX_ARRAY_DEPTH = 4;

    private final Path path;
    private final Arena arena;
    /** The bytes read: the mapping's native view ({@link MappedFile#contents}), or the bytes {@link #parse} got. */
    private final MemorySegment file;
    /** The mapping behind {@link #file}; null when the bytes were not mapped from a file. */
    private final MappedFile mapped;

    private final int version;
    private final long dataStart;
    private final int alignment;
    private final Map<String, GgufValue> metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final String hugePages;
    private volatile boolean closed;

    private GgufFile(
            Path path,
            Arena arena,
            MemorySegment file,
            MappedFile mapped,
            int version,
            long dataStart,
            int alignment,
            Map<String, GgufValue> metadata,
            Map<String, GgufTensorInfo> tensors) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.mapped = mapped;
        this.version = version;
        this.dataStart = dataStart;
        this.alignment = alignment;
        this.metadata = metadata;
        this.tensors = tensors;
        this.hugePages = mapped != null ? HugePages.adviseWeights(mapped.mapping()) : "none (not a mapped file)";
    }

    /** The whole file as mapped; for bytes that were not mapped ({@link #parse}), those bytes. */
    public MemorySegment mapping() {
        ensureOpen();
        return mapped != null ? mapped.mapping() : file;
    }

    /**
     * Drops the pages under {@code data} (a tensor's bytes from {@link #data}) from this process's mapping, once a
     * copy replaces them; they stay in the page cache. Does nothing for bytes that were not mapped.
     */
    public void released(MemorySegment data) {
        ensureOpen();
        if (mapped != null) {
            mapped.release(data);
        }
    }

    /** What the kernel answered to the huge-page requests on the mapping ({@link HugePages#adviseWeights}). */
    public String hugePages() {
        return hugePages;
    }

    /** Whether a path names a GGUF file by its extension. */
    public static boolean isGgufPath(Path p) {
        Path name = p.getFileName();
        return name != null
                && name.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf");
    }

    /**
     * Maps and validates a GGUF file.
     *
     * @throws GgufException naming the file (and key or tensor) when it cannot be read or is not valid GGUF
     */
    public static GgufFile open(Path path) {
        String label = path.toString();
        Arena arena = Arena.ofShared();
        MappedFile mapped;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            mapped = MappedFile.map(ch, ch.size(), arena);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new GgufException(label + ": no such file", e);
        } catch (AccessDeniedException e) {
            arena.close();
            throw new GgufException(label + ": permission denied", e);
        } catch (IOException | UnsupportedOperationException e) {
            arena.close();
            String why = Files.isDirectory(path) ? "is a directory, not a GGUF file" : "cannot be read: " + e;
            throw new GgufException(label + ": " + why, e);
        }
        try {
            return new Parser(label, mapped.contents()).parse(path, arena, mapped);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Validates the bytes of a GGUF file already in memory: {@link #open} passes its mapping, the fuzz targets a heap
     * segment, so both run the same checks. The result reads {@code bytes} in place and closes {@code arena} when
     * closed; {@code path} names the file in messages.
     *
     * @throws GgufException naming {@code path} (and key or tensor) when the bytes are not valid GGUF
     */
    static GgufFile parse(Path path, MemorySegment bytes, Arena arena) {
        return new Parser(path.toString(), bytes).parse(path, arena, null);
    }

    /** Reads the header of a file's bytes. Every read goes through {@link #need(long, String)} first. */
    private static final class Parser {
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 =
                ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort U16 =
                ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final String label;
        private final MemorySegment seg;
        private final long size;
        private long pos;

        Parser(String label, MemorySegment seg) {
            this.label = label;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        GgufFile parse(Path path, Arena arena, MappedFile mapped) {
            if (size < 24) {
                throw new GgufException(
                        label + ": file is " + size + " bytes, shorter than a GGUF header (24 bytes): not a GGUF file");
            }
            int magic = seg.get(U32, 0);
            if (magic != MAGIC) {
                throw new GgufException(label + ": bad magic 0x" + Integer.toHexString(magic)
                        + " (expected \"GGUF\"): not a GGUF file");
            }
            int version = seg.get(U32, 4);
            if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
                throw new GgufException(label + ": a big-endian GGUF file (version " + Integer.reverseBytes(version)
                        + "); only little-endian files are read");
            }
            if (version != 2 && version != 3) {
                throw new GgufException(label + ": unsupported GGUF version " + Integer.toUnsignedString(version)
                        + " (versions 2 and 3 are read)");
            }
            pos = 8;
            long tensorCount = u64("the tensor count");
            long kvCount = u64("the metadata count");
            // the smallest tensor info is 24 bytes (empty name, no dims, type, offset); a key/value pair is 13
            checkCount(tensorCount, 24, "tensor count");
            checkCount(kvCount, 13, "metadata count");

            Map<String, GgufValue> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = string("the key of metadata entry " + i);
                long typeId = u32("the type of metadata '" + key + "'");
                GgufValueType type = GgufValueType.byId(typeId);
                if (type == null) {
                    throw new GgufException(label + ": metadata '" + key + "' has unknown value type " + typeId);
                }
                GgufValue v = value(key, type, 0);
                if (metadata.putIfAbsent(key, v) != null) {
                    throw new GgufException(label + ": metadata key '" + key + "' appears twice");
                }
            }
            int alignment = DEFAULT_ALIGNMENT;
            GgufValue a = metadata.get(ALIGNMENT_KEY);
            if (a != null) {
                if (a.type() != GgufValueType.UINT32) {
                    throw new GgufException(
                            label + ": metadata '" + ALIGNMENT_KEY + "' must be UINT32, got " + a.typeName());
                }
                long al = (Long) a.value();
                if (al <= 0 || Long.bitCount(al) != 1 || al > (1 << 30)) {
                    throw new GgufException(
                            label + ": metadata '" + ALIGNMENT_KEY + "' is " + al + ", not a power of two up to 2^30");
                }
                alignment = (int) al;
            }

            List<GgufTensorInfo> list = new ArrayList<>();
            Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
            for (long i = 0; i < tensorCount; i++) {
                GgufTensorInfo t = tensorInfo(i, alignment);
                if (byName.putIfAbsent(t.name(), t) != null) {
                    throw new GgufException(label + ": tensor '" + t.name() + "' appears twice");
                }
                list.add(t);
            }
            // A file whose tensors are all empty may end before the padding that would align its data section: the
            // section is then empty and starts at the end of the file, so every tensor's slice lies inside the file.
            long dataStart = Math.min(alignUp(pos, alignment), size);
            long dataLength = size - dataStart;
            for (GgufTensorInfo t : list) {
                if (t.offset() > dataLength || t.bytes() > dataLength - t.offset()) {
                    throw new GgufException(label + ": tensor '" + t.name() + "' data [" + t.offset() + ", "
                            + (t.offset() + t.bytes()) + ") lie outside the data section of " + dataLength
                            + " bytes (file truncated?)");
                }
            }
            checkOverlaps(list);
            return new GgufFile(
                    path,
                    arena,
                    seg,
                    mapped,
                    version,
                    dataStart,
                    alignment,
                    Collections.unmodifiableMap(metadata),
                    Collections.unmodifiableMap(byName));
        }

        private GgufTensorInfo tensorInfo(long i, int alignment) {
            String name = string("the name of tensor " + i);
            String where = label + ": tensor '" + name + "'";
            long nDims = u32("the rank of tensor '" + name + "'");
            if (nDims > MAX_DIMS) {
                throw new GgufException(where + ": " + nDims + " dimensions, more than ggml's " + MAX_DIMS);
            }
            long[] ne = new long[(int) nDims];
            for (int d = 0; d < ne.length; d++) {
                ne[d] = u64("dimension " + d + " of tensor '" + name + "'");
                if (ne[d] < 0) {
                    throw new GgufException(
                            where + ": dimension " + d + " is " + Long.toUnsignedString(ne[d]) + ", too large");
                }
            }
            long typeId = u32("the type of tensor '" + name + "'");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw new GgufException(where + ": unknown ggml type id " + typeId);
            }
            long offset = u64("the data offset of tensor '" + name + "'");
            long[] shape = new long[ne.length];
            for (int d = 0; d < ne.length; d++) {
                shape[d] = ne[ne.length - 1 - d];
            }
            long elements;
            long bytes;
            try {
                elements = 1;
                // the non-zero dimensions must multiply within 64 bits too, so that no product of some of them
                // (rows × columns, in any order) overflows in an empty tensor either
                long nonZero = 1;
                for (long d : ne) {
                    elements = Math.multiplyExact(elements, d);
                    nonZero = Math.multiplyExact(nonZero, Math.max(d, 1));
                }
                if (ne.length > 0 && ne[0] % type.blockSize() != 0) {
                    throw new GgufException(where + ": rows of " + ne[0] + " elements are not a whole number of " + type
                            + " blocks of " + type.blockSize());
                }
                bytes = type.bytesFor(elements);
            } catch (ArithmeticException e) {
                throw new GgufException(
                        where + ": shape " + Arrays.toString(shape) + " of " + type + " overflows 64 bits", e);
            } catch (IllegalArgumentException e) {
                if (e instanceof GgufException g) {
                    throw g;
                }
                throw new GgufException(where + ": " + e.getMessage(), e);
            }
            if (offset < 0 || offset % alignment != 0) {
                throw new GgufException(where + ": data offset " + Long.toUnsignedString(offset)
                        + " is not a multiple of the alignment " + alignment);
            }
            return new GgufTensorInfo(name, type, shape, offset, bytes);
        }

        private void checkOverlaps(List<GgufTensorInfo> list) {
            List<GgufTensorInfo> sorted = new ArrayList<>();
            for (GgufTensorInfo t : list) {
                if (t.bytes() > 0) {
                    sorted.add(t);
                }
            }
            sorted.sort(Comparator.comparingLong(GgufTensorInfo::offset));
            for (int i = 1; i < sorted.size(); i++) {
                GgufTensorInfo prev = sorted.get(i - 1);
                GgufTensorInfo cur = sorted.get(i);
                if (cur.offset() < prev.offset() + prev.bytes()) {
                    throw new GgufException(label + ": the data of tensors '" + prev.name() + "' [" + prev.offset()
                            + ", " + (prev.offset() + prev.bytes()) + ") and '" + cur.name() + "' [" + cur.offset()
                            + ", " + (cur.offset() + cur.bytes()) + ") overlap");
                }
            }
        }

        private GgufValue value(String key, GgufValueType type, int depth) {
            String what = "the value of metadata '" + key + "'";
            if (type != GgufValueType.ARRAY) {
                return new GgufValue(type, null, scalar(type, what));
            }
            if (depth >= MAX_ARRAY_DEPTH) {
                throw new GgufException(label + ": metadata '" + key + "' nests arrays deeper than " + MAX_ARRAY_DEPTH);
            }
            long elemId = u32("the element type of metadata '" + key + "'");
            GgufValueType elem = GgufValueType.byId(elemId);
            if (elem == null) {
                throw new GgufException(label + ": metadata '" + key + "' is an array of unknown value type " + elemId);
            }
            long n = u64("the length of metadata '" + key + "'");
            if (n < 0 || n > (size - pos) / elem.minBytes()) {
                throw new GgufException(label + ": metadata '" + key + "' claims " + Long.toUnsignedString(n) + " "
                        + elem + " elements, more than the " + (size - pos) + " bytes left in the file hold");
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw new GgufException(label + ": metadata '" + key + "' has " + n + " elements, too many");
            }
            List<Object> items = new ArrayList<>((int) n);
            for (long i = 0; i < n; i++) {
                if (elem == GgufValueType.ARRAY) {
                    items.add(value(key, elem, depth + 1));
                } else {
                    items.add(scalar(elem, "element " + i + " of metadata '" + key + "'"));
                }
            }
            return new GgufValue(type, elem, Collections.unmodifiableList(items));
        }

        private Object scalar(GgufValueType type, String what) {
            return switch (type) {
                case UINT8 -> (long) (u8(what) & 0xFF);
                case INT8 -> (long) u8(what);
                case UINT16 -> (long) (i16(what) & 0xFFFF);
                case INT16 -> (long) i16(what);
                case UINT32 -> u32(what);
                case INT32 -> (long) (int) u32(what);
                case UINT64, INT64 -> u64(what);
                case FLOAT32 -> (double) Float.intBitsToFloat((int) u32(what));
                case FLOAT64 -> Double.longBitsToDouble(u64(what));
                case BOOL -> {
                    byte b = u8(what);
                    if (b != 0 && b != 1) {
                        throw new GgufException(
                                label + ": " + what + " is a BOOL of value " + b + " (0 or 1 expected)");
                    }
                    yield b == 1;
                }
                case STRING -> string(what);
                case ARRAY -> throw new IllegalStateException("arrays are read by value()");
            };
        }

        private void checkCount(long n, int minBytes, String what) {
            if (n < 0 || n > (size - pos) / minBytes) {
                throw new GgufException(label + ": " + what + " " + Long.toUnsignedString(n) + " overruns the file ("
                        + size + " bytes): truncated or corrupt");
            }
        }

        private void need(long n, String what) {
            if (n > size - pos) {
                throw new GgufException(label + ": truncated: " + what + " at byte " + pos + " needs " + n
                        + " bytes, the file has " + (size - pos) + " left");
            }
        }

        private byte u8(String what) {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++);
        }

        private short i16(String what) {
            need(2, what);
            short v = seg.get(U16, pos);
            pos += 2;
            return v;
        }

        private long u32(String what) {
            need(4, what);
            long v = seg.get(U32, pos) & 0xFFFFFFFFL;
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        private String string(String what) {
            long len = u64("the length of " + what);
            if (len < 0 || len > size - pos) {
                throw new GgufException(label + ": " + what + " is a string of " + Long.toUnsignedString(len)
                        + " bytes, more than the " + (size - pos) + " bytes left in the file");
            }
            ByteBuffer bytes = seg.asSlice(pos, len).asByteBuffer();
            pos += len;
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(bytes)
                        .toString();
            } catch (CharacterCodingException e) {
                throw new GgufException(label + ": " + what + " is not valid UTF-8", e);
            }
        }
    }

    private static long alignUp(long x, int alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** The GGUF version (2 or 3). */
    public int version() {
        return version;
    }

    /** The data alignment ({@code general.alignment}, 32 when absent). */
    public int alignment() {
        return alignment;
    }

    /** Size of the whole file in bytes. */
    public long fileSize() {
        return file.byteSize();
    }

    /** Every metadata entry, in file order. */
    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** Every tensor, in file order. */
    public Map<String, GgufTensorInfo> tensors() {
        ensureOpen();
        return tensors;
    }

    public boolean contains(String tensor) {
        ensureOpen();
        return tensors.containsKey(tensor);
    }

    /**
     * A tensor's info.
     *
     * @throws GgufException naming the tensor and the file when absent
     */
    public GgufTensorInfo info(String tensor) {
        ensureOpen();
        GgufTensorInfo t = tensors.get(tensor);
        if (t == null) {
            throw new GgufException(path + ": no tensor named '" + tensor + "'");
        }
        return t;
    }

    /** A tensor's raw bytes, a zero-copy read-only view of the mapping. */
    public MemorySegment data(String tensor) {
        GgufTensorInfo t = info(tensor);
        return file.asSlice(dataStart + t.offset(), t.bytes());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Typed metadata access: each names the key and the file when the value is absent or of another type.

    /** The value of {@code key}, or {@code null}. */
    public GgufValue get(String key) {
        return metadata.get(key);
    }

    private GgufValue require(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            throw new GgufException(path + ": metadata '" + key + "' is missing");
        }
        return v;
    }

    private GgufException wrongType(String key, GgufValue v, String wanted) {
        return new GgufException(path + ": metadata '" + key + "' must be " + wanted + ", got " + v.typeName());
    }

    /** A string value. */
    public String string(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufValueType.STRING) {
            throw wrongType(key, v, "a STRING");
        }
        return (String) v.value();
    }

    /** A string value, or {@code fallback} when absent. */
    public String string(String key, String fallback) {
        return metadata.containsKey(key) ? string(key) : fallback;
    }

    /** An integer value of any integer type that fits an int and is at least {@code min}. */
    public int integer(String key, int min) {
        GgufValue v = require(key);
        if (!v.type().isInteger()) {
            throw wrongType(key, v, "an integer");
        }
        long x = (Long) v.value();
        if (x < min || x > Integer.MAX_VALUE || (v.type() == GgufValueType.UINT64 && x < 0)) {
            throw new GgufException(path + ": metadata '" + key + "' is " + v.show() + ", outside [" + min + ", "
                    + Integer.MAX_VALUE + "]");
        }
        return (int) x;
    }

    /** A float value (FLOAT32 or FLOAT64). */
    public double number(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufValueType.FLOAT32 && v.type() != GgufValueType.FLOAT64) {
            throw wrongType(key, v, "a float");
        }
        return (Double) v.value();
    }

    /** A boolean value, or {@code fallback} when absent. */
    public boolean bool(String key, boolean fallback) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            return fallback;
        }
        if (v.type() != GgufValueType.BOOL) {
            throw wrongType(key, v, "a BOOL");
        }
        return (Boolean) v.value();
    }

    /** An array of strings. */
    public List<String> strings(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufValueType.ARRAY || v.elementType() != GgufValueType.STRING) {
            throw wrongType(key, v, "an ARRAY of STRING");
        }
        @SuppressWarnings("unchecked")
        List<String> l = (List<String>) v.value();
        return l;
    }

    /** An array of integers (any integer element type), as longs. */
    public long[] integers(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufValueType.ARRAY || !v.elementType().isInteger()) {
            throw wrongType(key, v, "an ARRAY of integers");
        }
        List<?> l = v.list();
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (Long) l.get(i);
        }
        return out;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Unmaps the file. Idempotent. */
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
            throw new IllegalStateException(path + ": GGUF file is closed");
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + tensors.size() + " tensors" + (closed ? ", closed" : "")
                + "]";
    }
}
