package io.falconmamba.loader.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.CheckpointValidator;
import io.falconmamba.loader.ModelConfig;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes a Hugging Face Falcon Mamba / Mamba checkpoint directory as one GGUF file laid out as llama.cpp's
 * converter and quantizer write architecture {@code mamba}: the metadata keys and their order, {@code ssm_a}
 * as −exp(A_log), {@code ssm_conv1d.weight} as [d_inner, d_conv], no {@code output.weight} when tied, the
 * tensors in the order output, output_norm, token_embd, then each block's tensors by name, alignment 32.
 *
 * <p>The matrices (token_embd, output, ssm_in, ssm_x, ssm_dt, ssm_out) take the requested type; vectors,
 * {@code ssm_a} and {@code ssm_conv1d} stay F32, as llama.cpp keeps them. A matrix whose rows are not whole
 * blocks of the type falls back as llama-quantize's does: Q6_K to Q8_0, Q4_K to Q5_0, anything else (and Q8_0 rows that are
 * not whole 32-value blocks) to F16. Quantizing runs on {@code threads} threads, rows split between them.
 */
public final class GgufConverter {

    /** Reports progress in values encoded so far, of the total. */
    @FunctionalInterface
    public interface Listener {
        void onProgress(long done, long total);
    }

    /** llama.cpp's llama_ftype of a file whose matrices are all of one type. */
    static int fileType(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q6_K -> 18;
            case Q4_K -> 14;
            case Q5_0 -> 8;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no file type for " + t);
        };
    }

    private GgufConverter() {}

    /**
     * Converts {@code modelDir} (config.json, safetensors weights, tokenizer.json, and the chat template when
     * present) to {@code out}.
     *
     * @throws GgufException naming the directory and what it lacks when it cannot be converted
     */
    public static void convert(Path modelDir, Path out, GgmlType type, int threads, Listener listener)
            throws IOException {
        if (!Quantizer.writable(type)) {
            throw new IllegalArgumentException("cannot write ggml type " + type);
        }
        ModelConfig cfg = ModelConfig.fromJson(modelDir.resolve(ModelConfig.FILE_NAME));
        MambaConfig c = cfg.toMambaConfig();
        try (Checkpoint cp = Checkpoint.open(modelDir)) {
            CheckpointValidator.validate(c, cp);
            GgufWriter w = new GgufWriter();
            writeMetadata(w, modelDir, cfg, type);
            List<Planned> plan = plan(cp, c, type);
            long total = 0;
            for (Planned p : plan) {
                total += p.elements();
            }
            AtomicLong done = new AtomicLong();
            long all = total;
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
            try {
                for (Planned p : plan) {
                    w.addTensor(p.gguf, p.type, p.shape, () -> {
                        MemorySegment seg = encode(cp, p, pool);
                        listener.onProgress(done.addAndGet(p.elements()), all);
                        return seg;
                    });
                }
                w.write(out);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** One tensor to write: its Hugging Face source, GGUF name, type and (row-major) shape. */
    private record Planned(String hf, String gguf, GgmlType type, long[] shape) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static List<Planned> plan(Checkpoint cp, MambaConfig c, GgmlType type) {
        List<Planned> plan = new ArrayList<>();
        List<String> globals = new ArrayList<>();
        if (!c.tieWordEmbeddings()) {
            globals.add("lm_head.weight");
        }
        globals.add("backbone.norm_f.weight");
        globals.add("backbone.embeddings.weight");
        for (String hf : globals) {
            plan.add(planned(cp, hf, type));
        }
        for (int l = 0; l < c.numLayers(); l++) {
            Map<String, Planned> byName = new TreeMap<>();
            String prefix = "backbone.layers." + l + ".";
            for (String hf : cp.names()) {
                if (hf.startsWith(prefix) && MambaTensorNames.toGguf(hf) != null) {
                    Planned p = planned(cp, hf, type);
                    byName.put(p.gguf, p);
                }
            }
            plan.addAll(byName.values());
        }
        return plan;
    }

    private static Planned planned(Checkpoint cp, String hf, GgmlType type) {
        String g = MambaTensorNames.toGguf(hf);
        long[] shape = cp.tensor(hf).shape();
        if (hf.endsWith("conv1d.weight") && shape.length == 3) {
            shape = new long[] {shape[0], shape[2]};
        }
        boolean matrix = shape.length == 2 && !hf.endsWith("conv1d.weight") && !MambaTensorNames.isALog(hf);
        GgmlType t = GgmlType.F32;
        if (matrix) {
            t = type;
            if (shape[1] % t.blockSize() != 0) {
                // llama.cpp's fallback for rows that are not whole 256-value blocks
                t = switch (type) {
                    case Q6_K -> GgmlType.Q8_0;
                    case Q4_K -> GgmlType.Q5_0;
                    default -> GgmlType.F16;
                };
            }
            if (shape[1] % t.blockSize() != 0) {
                t = GgmlType.F16;
            }
        }
        return new Planned(hf, g, t, shape);
    }

    /** The tensor's bytes in its planned type, rows encoded in parallel. */
    private static MemorySegment encode(Checkpoint cp, Planned p, ExecutorService pool) {
        Tensor t = cp.tensor(p.hf);
        boolean aLog = MambaTensorNames.isALog(p.hf);
        long n = p.elements();
        int cols = (int) p.shape[p.shape.length - 1];
        long rows = n / cols;
        long rowBytes = p.type.bytesFor(cols);
        long bytes = Math.multiplyExact(rows, rowBytes);
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new GgufException(cp.location() + ": tensor '" + p.hf + "' needs " + bytes + " bytes in " + p.type
                    + ", more than one tensor of this converter can hold (2 GiB)");
        }
        MemorySegment out = MemorySegment.ofArray(new byte[(int) bytes]);
        int parts = (int) Math.min(rows, 64);
        List<Future<?>> futures = new ArrayList<>();
        for (int part = 0; part < parts; part++) {
            long r0 = rows * part / parts;
            long r1 = rows * (part + 1) / parts;
            futures.add(pool.submit(() -> {
                float[] row = new float[cols];
                for (long r = r0; r < r1; r++) {
                    for (int j = 0; j < cols; j++) {
                        float v = t.get(r * cols + j);
                        row[j] = aLog ? (float) -Math.exp(v) : v;
                    }
                    Quantizer.quantize(p.type, row, 0, cols, out, r * rowBytes);
                }
            }));
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while converting " + p.hf, e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("converting " + p.hf + " failed: " + e.getCause(), e.getCause());
            }
        }
        return out;
    }

    private static void writeMetadata(GgufWriter w, Path dir, ModelConfig cfg, GgmlType type) throws IOException {
        MambaConfig c = cfg.toMambaConfig();
        String a = GgufModelConfig.ARCHITECTURE + ".";
        w.putString("general.architecture", GgufModelConfig.ARCHITECTURE);
        Path name = dir.toAbsolutePath().normalize().getFileName();
        w.putString("general.name", name == null ? "model" : name.toString());
        // llama.cpp's converter writes 2^20: a recurrent model has no context limit of its own
        w.putUint32(a + "context_length", 1 << 20);
        w.putUint32(a + "embedding_length", c.hiddenSize());
        w.putUint32(a + "feed_forward_length", 0);
        w.putUint32(a + "attention.head_count", 0);
        w.putUint32(a + "block_count", c.numLayers());
        w.putUint32(a + "ssm.conv_kernel", c.convKernel());
        w.putUint32(a + "ssm.inner_size", c.intermediateSize());
        w.putUint32(a + "ssm.state_size", c.stateSize());
        w.putUint32(a + "ssm.time_step_rank", c.timeStepRank());
        w.putFloat32(a + "attention.layer_norm_rms_epsilon", (float) cfg.layerNormEpsilon());
        w.putBool(a + "ssm.dt_b_c_rms", c.architecture() == io.falconmamba.core.Architecture.FALCON_MAMBA);
        TokenizerMetadata.write(w, dir, cfg);
        w.putUint32("general.quantization_version", 2);
        w.putUint32("general.file_type", fileType(type));
    }

    /** The {@code tokenizer.*} keys from a Hugging Face byte-level BPE tokenizer.json. */
    static final class TokenizerMetadata {

        private static final ObjectMapper JSON = new ObjectMapper();

        private TokenizerMetadata() {}

        static void write(GgufWriter w, Path dir, ModelConfig cfg) throws IOException {
            Path file = dir.resolve("tokenizer.json");
            if (!Files.isRegularFile(file)) {
                throw new GgufException(
                        dir + ": no tokenizer.json; a GGUF file carries its tokenizer, so converting" + " needs one");
            }
            JsonNode root = JSON.readTree(file.toFile());
            JsonNode model = root.path("model");
            if (!model.path("type").asText().equals("BPE")
                    || !root.path("decoder").path("type").asText().equals("ByteLevel")) {
                throw new GgufException(file + ": only byte-level BPE tokenizers (GGUF model gpt2) can be written,"
                        + " this one is " + model.path("type").asText("?") + " with decoder "
                        + root.path("decoder").path("type").asText("?"));
            }
            String pre = preTokenizer(file, root.path("pre_tokenizer"));
            Map<Integer, String> byId = new TreeMap<>();
            Map<Integer, Integer> types = new TreeMap<>();
            for (Map.Entry<String, JsonNode> e : model.path("vocab").properties()) {
                byId.put(e.getValue().asInt(), e.getKey());
                types.put(e.getValue().asInt(), 1);
            }
            for (JsonNode t : root.path("added_tokens")) {
                int id = t.path("id").asInt();
                byId.put(id, t.path("content").asText());
                types.put(id, t.path("special").asBoolean(false) ? 3 : 4);
            }
            int size = Math.max(cfg.vocabSize(), byId.isEmpty() ? 0 : ((TreeMap<Integer, String>) byId).lastKey() + 1);
            List<String> tokens = new ArrayList<>(size);
            long[] tokenTypes = new long[size];
            for (int i = 0; i < size; i++) {
                String t = byId.get(i);
                // ids the tokenizer does not use (vocab padded to a round size) get placeholders, as llama.cpp's
                tokens.add(t != null ? t : "[PAD" + i + "]");
                tokenTypes[i] = t != null ? types.get(i) : 5;
            }
            List<String> merges = new ArrayList<>();
            for (JsonNode m : model.path("merges")) {
                merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
            }
            w.putString("tokenizer.ggml.model", "gpt2");
            w.putString("tokenizer.ggml.pre", pre);
            w.putStrings("tokenizer.ggml.tokens", tokens);
            w.putIntegers("tokenizer.ggml.token_type", GgufValueType.INT32, tokenTypes);
            w.putStrings("tokenizer.ggml.merges", merges);
            if (cfg.bosTokenId().isPresent()) {
                w.putUint32("tokenizer.ggml.bos_token_id", cfg.bosTokenId().getAsInt());
            }
            if (!cfg.eosTokenIds().isEmpty()) {
                w.putUint32("tokenizer.ggml.eos_token_id", cfg.eosTokenIds().get(0));
            }
            if (cfg.padTokenId().isPresent()) {
                w.putUint32("tokenizer.ggml.padding_token_id", cfg.padTokenId().getAsInt());
            }
            String template = chatTemplate(dir);
            if (template != null) {
                w.putString("tokenizer.chat_template", template);
            }
        }

        /** {@code falcon} for Falcon's punctuation/byte-level/digits sequence, {@code default} for plain GPT-2. */
        private static String preTokenizer(Path file, JsonNode pre) {
            if (pre.path("type").asText().equals("ByteLevel")) {
                return "default";
            }
            if (pre.path("type").asText().equals("Sequence")) {
                List<String> kinds = new ArrayList<>();
                pre.path("pretokenizers").forEach(p -> kinds.add(p.path("type").asText()));
                if (kinds.equals(List.of("Punctuation", "ByteLevel", "Digits", "Split"))) {
                    return "falcon";
                }
            }
            throw new GgufException(
                    file + ": pre-tokenizer " + pre
                            + " is neither GPT-2's ByteLevel nor Falcon's sequence; no GGUF pre-tokenizer name is known for it");
        }

        private static String chatTemplate(Path dir) throws IOException {
            Path jinja = dir.resolve("chat_template.jinja");
            if (Files.isRegularFile(jinja)) {
                return Files.readString(jinja);
            }
            Path config = dir.resolve("tokenizer_config.json");
            if (Files.isRegularFile(config)) {
                JsonNode t = JSON.readTree(config.toFile()).get("chat_template");
                if (t != null && t.isTextual()) {
                    return t.asText();
                }
            }
            return null;
        }
    }
}
