package io.falconmamba.core.testutil;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.falconmamba.core.Architecture;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightSource;
import io.falconmamba.core.WeightType;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Test access to the golden fixtures under the root {@code src/test}: a minimal safetensors reader (the real,
 * validating one lives in the loader module, which core cannot depend on), the models and their references.
 */
public final class Fixtures {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The four fixture models. */
    public static final List<String> MODELS =
            List.of("tiny-falcon-mamba", "tiny-falcon-mamba-bf16", "tiny-falcon-mamba-sharded", "tiny-mamba");

    /**
     * Fixtures made by the project's tools/make_reference_fixture.py for cases the shared ones lack: F16 weights
     * with in/out biases and odd sizes (hidden 40, state 12, conv 3, rank 5), and a BF16 Mamba-1 without a conv
     * bias (hidden 36, state 7, conv 5, rank 3, 3 layers). They have no stepwise_logits.
     */
    public static final List<String> EXTRA_MODELS = List.of("tiny-falcon-mamba-f16-bias", "tiny-mamba-bf16-odd");

    public static final List<String> ALL_MODELS = java.util.stream.Stream.concat(MODELS.stream(), EXTRA_MODELS.stream())
            .toList();

    private Fixtures() {}

    public static Path root() {
        return TestData.root();
    }

    public static Path model(String name) {
        return TestData.model(name);
    }

    public static JsonNode json(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The config the fixture's config.json states (every fixture spells out every field). */
    public static MambaConfig config(String name) {
        JsonNode c = json(model(name).resolve("config.json"));
        Architecture arch =
                c.get("model_type").asText().equals("mamba") ? Architecture.MAMBA : Architecture.FALCON_MAMBA;
        return new MambaConfig(
                arch,
                c.get("vocab_size").asInt(),
                c.get("hidden_size").asInt(),
                c.get("intermediate_size").asInt(),
                c.get("state_size").asInt(),
                c.get("num_hidden_layers").asInt(),
                c.get("conv_kernel").asInt(),
                c.get("time_step_rank").asInt(),
                (float) c.get("layer_norm_epsilon").asDouble(),
                (float) c.path("mixer_rms_eps").asDouble(1e-6),
                c.get("use_bias").asBoolean(),
                c.get("use_conv_bias").asBoolean(),
                c.path("tie_word_embeddings").asBoolean(true));
    }

    /** The fixture's weights (single file or sharded), viewed in place from memory maps that live for the JVM. */
    public static Tensors weights(String name) {
        Path dir = model(name);
        Path index = dir.resolve("model.safetensors.index.json");
        Tensors all = new Tensors();
        if (Files.exists(index)) {
            JsonNode map = json(index).get("weight_map");
            Map<String, Tensors> shards = new HashMap<>();
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                Tensors shard = shards.computeIfAbsent(e.getValue().asText(), f -> read(dir.resolve(f)));
                all.map.put(e.getKey(), shard.tensor(e.getKey()));
            }
        } else {
            all = read(dir.resolve("model.safetensors"));
        }
        return all;
    }

    public static FalconMambaModel loadModel(String name, int threads) {
        return FalconMambaModel.create(config(name), weights(name), threads);
    }

    /** The fixture model with its projections quantized at load. */
    public static FalconMambaModel loadModel(String name, int threads, io.falconmamba.core.Quantization quantization) {
        return FalconMambaModel.create(config(name), weights(name), threads, quantization);
    }

    /** Reads every tensor of a safetensors file (F32/F16/BF16) as in-place views. */
    public static Tensors read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.global());
            long headerLen = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            String header =
                    new String(all.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            JsonNode h = JSON.readTree(header);
            Tensors out = new Tensors();
            long data = 8 + headerLen;
            for (Map.Entry<String, JsonNode> e : h.properties()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode t = e.getValue();
                List<Long> shape = new ArrayList<>();
                t.get("shape").forEach(n -> shape.add(n.asLong()));
                long begin = t.get("data_offsets").get(0).asLong();
                long end = t.get("data_offsets").get(1).asLong();
                WeightType type = WeightType.valueOf(t.get("dtype").asText());
                out.map.put(
                        e.getKey(),
                        new Tensor(
                                e.getKey(),
                                type,
                                shape.stream().mapToLong(Long::longValue).toArray(),
                                all.asSlice(data + begin, end - begin)));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Tensors by name. */
    public static final class Tensors implements WeightSource {
        final Map<String, Tensor> map = new HashMap<>();

        @Override
        public boolean contains(String name) {
            return map.containsKey(name);
        }

        @Override
        public Tensor tensor(String name) {
            Tensor t = map.get(name);
            if (t == null) {
                throw new IllegalArgumentException("no tensor " + name);
            }
            return t;
        }

        public boolean has(String name) {
            return map.containsKey(name);
        }

        public float[] floats(String name) {
            return tensor(name).toFloatArray();
        }

        /** Rows of a 2-D float tensor. */
        public float[][] rows(String name) {
            Tensor t = tensor(name);
            int rows = (int) t.dim(0);
            int cols = (int) (t.size() / rows);
            float[] flat = t.toFloatArray();
            float[][] out = new float[rows][cols];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(flat, r * cols, out[r], 0, cols);
            }
            return out;
        }
    }

    /** A fixture's reference.json + reference.safetensors. */
    public record Reference(JsonNode json, Tensors tensors) {

        public static Reference of(String name) {
            Path dir = model(name);
            return new Reference(
                    Fixtures.json(dir.resolve("reference.json")), read(dir.resolve("reference.safetensors")));
        }

        public int sequences() {
            return json.get("sequences").size();
        }

        public int[] inputIds(int s) {
            return ints(json.get("sequences").get(s).get("input_ids"));
        }

        public int[] generatedIds(int s) {
            return ints(json.get("sequences").get(s).get("generated_ids"));
        }

        private static int[] ints(JsonNode arr) {
            int[] out = new int[arr.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = arr.get(i).asInt();
            }
            return out;
        }
    }

    /** Largest absolute difference. */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            m = Math.max(m, d);
        }
        return m;
    }
}
