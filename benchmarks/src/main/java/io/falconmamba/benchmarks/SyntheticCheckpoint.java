package io.falconmamba.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Synthesises a Falcon Mamba checkpoint in the Hugging Face layout (config.json + model.safetensors, or
 * shards + index above ~4 GB) with seeded random weights, streamed to disk.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.falconmamba.benchmarks.SyntheticCheckpoint \
 *     --shape fm-130m|fm-1.4b|fm-7b|tiny --dtype f32|f16|bf16 --out DIR [--seed S] [--shard-gb G]
 * </pre>
 *
 * <p>Init keeps activations finite: projections uniform ±1/sqrt(fan_in), norm weights 1, A_log = log(1..N),
 * D = 1, dt_proj.bias = softplus⁻¹(dt) with dt log-uniform in [0.001, 0.1]. Every value depends only on the
 * seed, the tensor name and the element index, so a file is reproducible chunk by chunk.
 */
public final class SyntheticCheckpoint {

    /** A model shape: hidden size and layers; the rest follows Falcon Mamba's rules. */
    public record Shape(String name, int hidden, int layers, int vocab) {
        public int intermediate() {
            return 2 * hidden;
        }

        public int timeStepRank() {
            return (hidden + 15) / 16;
        }

        public static Shape of(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "fm-130m" -> new Shape("fm-130m", 768, 24, VOCAB);
                case "fm-1.4b" -> new Shape("fm-1.4b", 2048, 48, VOCAB);
                case "fm-7b" -> new Shape("fm-7b", 4096, 64, VOCAB);
                case "tiny" -> new Shape("tiny", 64, 2, 512);
                default ->
                    throw new IllegalArgumentException("unknown shape '" + name + "': fm-130m, fm-1.4b, fm-7b or tiny");
            };
        }
    }

    public static final int VOCAB = 65024;
    public static final int STATE = 16;
    public static final int CONV = 4;
    static final long DEFAULT_SHARD_BYTES = 4L << 30;

    private SyntheticCheckpoint() {}

    public static void main(String[] args) throws IOException {
        int code = run(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** Runs the command line; a bad argument is one line and the usage on stderr, and exit code 2. */
    static int run(String[] args) throws IOException {
        String shape = null;
        String dtype = "bf16";
        Path out = null;
        long seed = 42;
        double shardGb = 4.0;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (i + 1 >= args.length) {
                    return usage(a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--shape" -> shape = v;
                    case "--dtype" -> dtype = v;
                    case "--out" -> out = Path.of(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--shard-gb" -> shardGb = Double.parseDouble(v);
                    default -> {
                        return usage("unknown argument " + a);
                    }
                }
            }
            if (shape == null || out == null) {
                return usage("--shape and --out are required");
            }
            Shape.of(shape);
            ElementType.of(dtype);
        } catch (IllegalArgumentException e) { // bad shape, dtype or number (NumberFormatException is one)
            return usage(e.getMessage());
        }
        long t0 = System.nanoTime();
        long bytes = write(Shape.of(shape), dtype, out, seed, (long) (shardGb * (1L << 30)));
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "wrote %s %s to %s: %.2f GB in %.1f s (%.0f MB/s)%n",
                shape,
                dtype,
                out,
                bytes / 1e9,
                s,
                bytes / 1e6 / s);
        return 0;
    }

    private static int usage(String msg) {
        System.err.println("error: " + msg
                + " (usage: SyntheticCheckpoint --shape fm-130m|fm-1.4b|fm-7b|tiny --dtype f32|f16|bf16 --out DIR"
                + " [--seed S] [--shard-gb G])");
        return 2;
    }

    /** Writes the checkpoint; returns the bytes of tensor data. Skips the work when an identical one exists. */
    public static long write(Shape shape, String dtype, Path dir, long seed, long shardBytes) throws IOException {
        Files.createDirectories(dir);
        ElementType et = ElementType.of(dtype);
        List<StreamingSafetensorsWriter.Spec> specs = specs(shape, et, seed);
        long total = 0;
        for (var s : specs) {
            total += s.bytes();
        }
        Files.writeString(dir.resolve("config.json"), configJson(shape, et));
        StreamingSafetensorsWriter.write(
                dir, specs, shardBytes, Map.of("format", "pt", "synthetic", "seed=" + seed + " shape=" + shape.name()));
        return total;
    }

    /** Writes the checkpoint once per (shape, dtype, seed) into {@code dir}; reuses it when a marker says it is there. */
    public static Path ensure(Shape shape, String dtype, Path dir, long seed) throws IOException {
        Path marker = dir.resolve(".synthetic-" + shape.name() + "-" + dtype + "-" + seed);
        if (!Files.exists(marker)) {
            write(shape, dtype, dir, seed, DEFAULT_SHARD_BYTES);
            Files.writeString(marker, "ok");
        }
        return dir;
    }

    static String configJson(Shape s, ElementType et) throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode c = m.createObjectNode();
        c.putArray("architectures").add("FalconMambaForCausalLM");
        c.put("model_type", "falcon_mamba");
        c.put("vocab_size", s.vocab());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("state_size", STATE);
        c.put("num_hidden_layers", s.layers());
        c.put("conv_kernel", CONV);
        c.put("expand", 2);
        c.put("time_step_rank", s.timeStepRank());
        c.put("layer_norm_epsilon", 1e-5);
        c.put("mixer_rms_eps", 1e-6);
        c.put("use_bias", false);
        c.put("use_conv_bias", true);
        c.put("tie_word_embeddings", false);
        c.put("hidden_act", "silu");
        c.put("bos_token_id", 0);
        c.put("eos_token_id", 11);
        c.put("pad_token_id", 11);
        c.put("torch_dtype", et.torchName);
        return m.writerWithDefaultPrettyPrinter().writeValueAsString(c);
    }

    static List<StreamingSafetensorsWriter.Spec> specs(Shape s, ElementType et, long seed) {
        int d = s.hidden();
        int dIn = s.intermediate();
        int r = s.timeStepRank();
        int n = STATE;
        List<StreamingSafetensorsWriter.Spec> out = new ArrayList<>();
        out.add(spec(
                "backbone.embeddings.weight",
                et,
                new long[] {s.vocab(), d},
                uniform(seed, "backbone.embeddings.weight", 1.0)));
        for (int l = 0; l < s.layers(); l++) {
            String p = "backbone.layers." + l + ".";
            String m = p + "mixer.";
            out.add(spec(p + "norm.weight", et, new long[] {d}, constant(1)));
            out.add(spec(m + "A_log", et, new long[] {dIn, n}, i -> (float) Math.log(1 + i % n)));
            out.add(spec(m + "D", et, new long[] {dIn}, constant(1)));
            out.add(spec(
                    m + "conv1d.weight",
                    et,
                    new long[] {dIn, 1, CONV},
                    uniform(seed, m + "conv1d.weight", 1 / Math.sqrt(CONV))));
            out.add(spec(
                    m + "conv1d.bias", et, new long[] {dIn}, uniform(seed, m + "conv1d.bias", 1 / Math.sqrt(CONV))));
            out.add(spec(m + "dt_proj.bias", et, new long[] {dIn}, dtBias(seed, m + "dt_proj.bias")));
            out.add(spec(
                    m + "dt_proj.weight",
                    et,
                    new long[] {dIn, r},
                    uniform(seed, m + "dt_proj.weight", 1 / Math.sqrt(r))));
            out.add(spec(
                    m + "in_proj.weight",
                    et,
                    new long[] {2L * dIn, d},
                    uniform(seed, m + "in_proj.weight", 1 / Math.sqrt(d))));
            out.add(spec(
                    m + "out_proj.weight",
                    et,
                    new long[] {d, dIn},
                    uniform(seed, m + "out_proj.weight", 1 / Math.sqrt(dIn))));
            out.add(spec(
                    m + "x_proj.weight",
                    et,
                    new long[] {r + 2L * n, dIn},
                    uniform(seed, m + "x_proj.weight", 1 / Math.sqrt(dIn))));
        }
        out.add(spec("backbone.norm_f.weight", et, new long[] {d}, constant(1)));
        out.add(spec(
                "lm_head.weight", et, new long[] {s.vocab(), d}, uniform(seed, "lm_head.weight", 1 / Math.sqrt(d))));
        return out;
    }

    /** Element index → value. */
    @FunctionalInterface
    interface Init {
        float at(long i);
    }

    static Init constant(float v) {
        return i -> v;
    }

    /** Uniform in ±bound, a pure function of (seed, name, index): a counter-based hash, no sequential state. */
    static Init uniform(long seed, String name, double bound) {
        long key = mix(seed * 0x9E3779B97F4A7C15L + name.hashCode());
        float scale = (float) (2 * bound / (1L << 24));
        float off = (float) bound;
        return i -> (mix(key + i * 0x9E3779B97F4A7C15L) >>> 40) * scale - off;
    }

    /** softplus⁻¹(dt), dt = exp(U(log 0.001, log 0.1)). */
    static Init dtBias(long seed, String name) {
        Init u = uniform(seed, name, 0.5);
        double lo = Math.log(0.001);
        double hi = Math.log(0.1);
        return i -> {
            double dt = Math.exp(lo + (u.at(i) + 0.5) * (hi - lo));
            return (float) (dt + Math.log(-Math.expm1(-dt)));
        };
    }

    /** SplitMix64 finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static StreamingSafetensorsWriter.Spec spec(String name, ElementType et, long[] shape, Init init) {
        return new StreamingSafetensorsWriter.Spec(
                name, et.safetensorsName, et.bytes, shape, (from, count, buf) -> et.put(init, from, count, buf));
    }

    /** Stored element types. */
    enum ElementType {
        F32("F32", "float32", 4),
        F16("F16", "float16", 2),
        BF16("BF16", "bfloat16", 2);

        final String safetensorsName;
        final String torchName;
        final int bytes;

        ElementType(String s, String t, int b) {
            safetensorsName = s;
            torchName = t;
            bytes = b;
        }

        static ElementType of(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "f32", "float32" -> F32;
                case "f16", "float16" -> F16;
                case "bf16", "bfloat16" -> BF16;
                default -> throw new IllegalArgumentException("unknown dtype '" + s + "': f32, f16 or bf16");
            };
        }

        void put(Init init, long from, int count, ByteBuffer buf) {
            switch (this) {
                case F32 -> {
                    for (int k = 0; k < count; k++) {
                        buf.putFloat(init.at(from + k));
                    }
                }
                case F16 -> {
                    for (int k = 0; k < count; k++) {
                        buf.putShort(Float.floatToFloat16(init.at(from + k)));
                    }
                }
                case BF16 -> {
                    for (int k = 0; k < count; k++) {
                        int bits = Float.floatToRawIntBits(init.at(from + k));
                        buf.putShort((short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
                    }
                }
            }
        }
    }
}
