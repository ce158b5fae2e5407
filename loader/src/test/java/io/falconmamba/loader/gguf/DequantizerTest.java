package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.loader.SafetensorsFile;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every tensor of every fixture file decoded by the reference dequantizer, against gguf-py's dequantization of
 * the same file: the first and last rows of each matrix bit for bit up to float32 rounding, and each tensor's
 * float64 sum and absolute sum to 1e-5 relative (the sums of floats that are equal add up alike; the tolerance
 * absorbs only the order of summation).
 */
class DequantizerTest {

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("io.falconmamba.loader.gguf.GgufFixtures#all")
    void rowsAndSumsMatchTheReference(String model, String type) {
        JsonNode ref = GgufFixtures.reference(model).get("types").get(type).get("tensors");
        Set<GgmlType> seen = EnumSet.noneOf(GgmlType.class);
        try (GgufFile f = GgufFile.open(GgufFixtures.file(model, type));
                SafetensorsFile rows =
                        SafetensorsFile.open(GgufFixtures.dir(model).resolve("reference.safetensors"))) {
            assertEquals(ref.size(), f.tensors().size(), "tensor count");
            int rowChecks = 0;
            for (Map.Entry<String, JsonNode> e : ref.properties()) {
                String name = e.getKey();
                GgufTensorInfo t = f.info(name);
                JsonNode r = e.getValue();
                assertEquals(r.get("ggml_type").asText(), t.type().name(), name);
                long[] shape = new long[r.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = r.get("shape").get(i).asLong();
                }
                assertTrue(Arrays.equals(shape, t.shape()), name + " shape " + Arrays.toString(t.shape()));
                seen.add(t.type());

                float[] all = new float[(int) t.elements()];
                Dequantizer.dequantize(t.type(), f.data(name), 0, all, 0, all.length);
                double sum = 0;
                double abs = 0;
                for (float v : all) {
                    sum += v;
                    abs += Math.abs(v);
                }
                assertEquals(
                        r.get("abs_sum").asDouble(),
                        abs,
                        1e-5 * r.get("abs_sum").asDouble(),
                        name + " abs sum");
                assertEquals(
                        r.get("sum").asDouble(), sum, 1e-5 * r.get("abs_sum").asDouble(), name + " sum");

                String rowsName = type + "." + name + ".rows";
                if (rows.contains(rowsName)) {
                    int cols = (int) t.rowLength();
                    long last = t.elements() / cols - 1;
                    float[] expected = rows.tensor(rowsName).toFloatArray();
                    MemorySegment data = f.data(name);
                    float[] first = Dequantizer.row(t.type(), data, 0, cols);
                    float[] lastRow = Dequantizer.row(t.type(), data, last, cols);
                    for (int j = 0; j < cols; j++) {
                        assertClose(expected[j], first[j], name + " row 0 col " + j);
                        assertClose(expected[cols + j], lastRow[j], name + " row " + last + " col " + j);
                    }
                    rowChecks++;
                }
            }
            assertTrue(rowChecks > 0, "no reference rows for " + type);
        }
        assertTrue(seen.size() >= 1);
    }

    /** Equal to float32 rounding: one unit in the last place of the larger magnitude. */
    private static void assertClose(float expected, float actual, String what) {
        float ulp = Math.ulp(Math.max(Math.abs(expected), Math.abs(actual)));
        assertTrue(Math.abs(expected - actual) <= ulp, what + ": expected " + expected + ", got " + actual);
    }
}
