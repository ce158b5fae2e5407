package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import io.falconmamba.loader.CheckpointValidator;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.loader.SafetensorsException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzz targets for the GGUF reader (Jazzer), fed through {@link GgufFile#parse}, the validation
 * {@link GgufFile#open} runs on its mapping. Every build replays the seed corpus in
 * {@code src/test/resources/.../GgufJazzerFuzzTestInputs/<target>/} and any crash saved there; {@code JAZZER_FUZZ=1}
 * fuzzes one target for its {@code maxDuration} (see {@code tools/FUZZING.md}). The contract: a file that keeps the
 * invariants below, or a {@link GgufException} naming the file; nothing else may escape.
 */
class GgufJazzerFuzzTest {

    private static final Path FILE = Path.of("fuzz", "model.gguf");
    /** Tensors up to this many elements are decoded in full (larger ones cost time and find nothing new). */
    private static final long DECODE_LIMIT = 1 << 16;

    /** A whole GGUF file: header, metadata of every type, tensor infos, alignment and data bounds. */
    @FuzzTest(maxDuration = "30s")
    void ggufFile(byte[] bytes) {
        try (GgufFile f = parse(bytes)) {
            if (f == null) {
                return;
            }
            assertTrue(f.version() == 2 || f.version() == 3, f.toString());
            int alignment = f.alignment();
            assertTrue(alignment > 0 && Integer.bitCount(alignment) == 1, "alignment " + alignment);
            assertEquals(bytes.length, f.fileSize());
            GgufValue a = f.get(GgufFile.ALIGNMENT_KEY);
            assertEquals(a == null ? GgufFile.DEFAULT_ALIGNMENT : (long) (Long) a.value(), alignment);

            for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
                GgufValue v = e.getValue();
                checkValue(v.type(), v.elementType(), v.value(), e.getKey());
                v.show();
                checkAccessors(f, e.getKey(), v);
            }
            refused(() -> f.string("no such key"));

            checkTensors(f, bytes.length);
            refused(() -> f.info("no such tensor"));
        }
    }

    /**
     * A GGUF file read as a Mamba model the way the engine opens one: the hyper-parameters, the engine's config,
     * the weights checked against it, every mapped tensor as the engine's {@link Tensor}, and the small ones decoded.
     */
    @FuzzTest(maxDuration = "30s")
    void mambaModel(byte[] bytes) {
        GgufFile f = parse(bytes);
        if (f == null) {
            return;
        }
        try (GgufWeights w = new GgufWeights(f)) {
            ModelConfig config;
            try {
                config = GgufModelConfig.read(f);
            } catch (GgufException expected) {
                assertNamesFile(expected);
                config = null;
            }
            if (config != null) {
                // read() promises a config the engine takes: nothing left for MambaConfig to refuse
                MambaConfig m = config.toMambaConfig();
                assertEquals(f.string("general.architecture"), GgufModelConfig.ARCHITECTURE);
                assertEquals(m.tieWordEmbeddings(), !f.contains("output.weight"));
                try {
                    CheckpointValidator.validate(m, w);
                    for (CheckpointValidator.ExpectedTensor t : CheckpointValidator.expectedTensors(m)) {
                        assertTrue(!t.required() || w.contains(t.name()), t.toString());
                    }
                } catch (SafetensorsException expected) {
                    assertTrue(expected.getMessage().contains(FILE.toString()), expected.getMessage());
                }
            }
            for (String name : w.names()) {
                Tensor t;
                try {
                    t = w.tensor(name);
                } catch (GgufException expected) {
                    assertNamesFile(expected);
                    continue;
                }
                GgufTensorInfo info = f.info(MambaTensorNames.toGguf(name));
                assertArrayEquals(info.shape(), t.shape(), name);
            }
            for (GgufTensorInfo t : f.tensors().values()) {
                if (t.type().readable() && t.elements() <= DECODE_LIMIT) {
                    float[] out = new float[(int) t.elements()];
                    Dequantizer.dequantize(t.type(), f.data(t.name()), 0, out, 0, out.length);
                }
            }
        }
    }

    /** The file, or {@code null} after checking that the refusal names it. */
    private static GgufFile parse(byte[] bytes) {
        Arena arena = Arena.ofConfined();
        try {
            return GgufFile.parse(FILE, MemorySegment.ofArray(bytes), arena);
        } catch (GgufException expected) {
            arena.close();
            assertNamesFile(expected);
            return null;
        }
    }

    /** Tensors: shape and size agree with the type, data aligned, inside the file, after the header, disjoint. */
    private static void checkTensors(GgufFile f, long fileSize) {
        long dataStart = -1;
        List<long[]> extents = new ArrayList<>();
        for (Map.Entry<String, GgufTensorInfo> e : f.tensors().entrySet()) {
            GgufTensorInfo t = e.getValue();
            assertEquals(e.getKey(), t.name());
            long[] shape = t.shape();
            assertTrue(shape.length <= GgufFile.MAX_DIMS, t.toString());
            long elements = 1;
            for (long d : shape) {
                assertTrue(d >= 0, t.toString());
                elements = Math.multiplyExact(elements, d);
            }
            assertEquals(elements, t.elements(), t.toString());
            assertEquals(0, t.rowLength() % t.type().blockSize(), t.toString());
            assertEquals(t.type().bytesFor(elements), t.bytes(), t.toString());
            assertEquals(0, t.offset() % f.alignment(), t.toString());

            MemorySegment data = f.data(t.name());
            assertEquals(t.bytes(), data.byteSize(), t.toString());
            // a heap segment's address is its offset in the array: here, the tensor's place in the file
            long start = data.address() - t.offset();
            assertTrue(dataStart < 0 || start == dataStart, "tensors disagree on where the data start: " + t);
            dataStart = start;
            assertTrue(
                    start >= 24 && (start % f.alignment() == 0 || (start == fileSize && t.bytes() == 0)),
                    "data start " + start);
            assertTrue(data.address() + t.bytes() <= fileSize, "tensor past the end of the file: " + t);
            if (t.bytes() > 0) {
                extents.add(new long[] {t.offset(), t.offset() + t.bytes()});
            }
        }
        extents.sort(Comparator.comparingLong(x -> x[0]));
        for (int i = 1; i < extents.size(); i++) {
            assertTrue(extents.get(i)[0] >= extents.get(i - 1)[1], "tensor data overlap");
        }
    }

    /** A value is what {@link GgufValue} says its type holds, within the type's range. */
    private static void checkValue(GgufValueType type, GgufValueType elementType, Object v, String key) {
        switch (type) {
            case UINT8 -> inRange(v, 0, 0xFF, key);
            case INT8 -> inRange(v, Byte.MIN_VALUE, Byte.MAX_VALUE, key);
            case UINT16 -> inRange(v, 0, 0xFFFF, key);
            case INT16 -> inRange(v, Short.MIN_VALUE, Short.MAX_VALUE, key);
            case UINT32 -> inRange(v, 0, 0xFFFFFFFFL, key);
            case INT32 -> inRange(v, Integer.MIN_VALUE, Integer.MAX_VALUE, key);
            case UINT64, INT64 -> assertInstanceOf(Long.class, v, key);
            case FLOAT32 -> {
                double d = assertInstanceOf(Double.class, v, key);
                assertTrue(Double.isNaN(d) || (double) (float) d == d, key + " is not a float32: " + d);
            }
            case FLOAT64 -> assertInstanceOf(Double.class, v, key);
            case BOOL -> assertInstanceOf(Boolean.class, v, key);
            case STRING -> assertInstanceOf(String.class, v, key);
            case ARRAY -> {
                assertTrue(elementType != null, key);
                for (Object item : assertInstanceOf(List.class, v, key)) {
                    if (elementType == GgufValueType.ARRAY) {
                        GgufValue inner = assertInstanceOf(GgufValue.class, item, key);
                        assertEquals(GgufValueType.ARRAY, inner.type(), key);
                        checkValue(inner.type(), inner.elementType(), inner.value(), key);
                    } else {
                        checkValue(elementType, null, item, key);
                    }
                }
            }
        }
    }

    private static void inRange(Object v, long min, long max, String key) {
        long x = assertInstanceOf(Long.class, v, key);
        assertTrue(x >= min && x <= max, key + " = " + x + " outside [" + min + ", " + max + "]");
    }

    /** Each typed accessor returns the value of its type or refuses, naming the file. */
    private static void checkAccessors(GgufFile f, String key, GgufValue v) {
        boolean array = v.type() == GgufValueType.ARRAY;
        accessor(v.type() == GgufValueType.STRING, () -> assertEquals(v.value(), f.string(key)));
        accessor(v.type().isInteger(), () -> assertEquals(v.value(), (long) f.integer(key, Integer.MIN_VALUE)));
        accessor(
                v.type() == GgufValueType.FLOAT32 || v.type() == GgufValueType.FLOAT64,
                () -> assertEquals(v.value(), f.number(key)));
        accessor(v.type() == GgufValueType.BOOL, () -> assertEquals(v.value(), f.bool(key, false)));
        accessor(array && v.elementType() == GgufValueType.STRING, () -> assertEquals(v.value(), f.strings(key)));
        accessor(
                array && v.elementType().isInteger(),
                () -> assertArrayEquals(
                        f.integers(key),
                        v.list().stream().mapToLong(x -> (Long) x).toArray()));
    }

    /** Runs an accessor: it reads a value of its type, except an integer outside an int, and refuses any other. */
    private static void accessor(boolean rightType, Runnable read) {
        try {
            read.run();
            assertTrue(rightType, "an accessor read a value of another type");
        } catch (GgufException e) {
            assertNamesFile(e);
            assertTrue(!rightType || e.getMessage().contains("outside"), e.getMessage());
        }
    }

    private static void refused(Runnable r) {
        try {
            r.run();
        } catch (GgufException expected) {
            assertNamesFile(expected);
            return;
        }
        throw new AssertionError("no GgufException");
    }

    private static void assertNamesFile(GgufException e) {
        assertTrue(e.getMessage().contains(FILE.toString()), e.getMessage());
    }
}
