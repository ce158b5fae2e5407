package io.falconmamba.loader.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Randomly damaged GGUF files: each must either open (and then every tensor decodes, and the model config and
 * weights read or fail with {@link GgufException}) or fail to open with {@link GgufException} naming the file.
 * Nothing else may escape: no other exception, no out-of-memory from a size the file claims.
 */
class GgufFuzzTest {

    @TempDir
    Path dir;

    /** A small file with every metadata type, nested and string arrays, and tensors of several types. */
    static byte[] seedFile() {
        Random r = new Random(7);
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "mamba")
                .putUint32("general.alignment", 32)
                .putUint32("mamba.embedding_length", 32)
                .putUint32("mamba.block_count", 1)
                .putUint32("mamba.ssm.conv_kernel", 4)
                .putUint32("mamba.ssm.inner_size", 64)
                .putUint32("mamba.ssm.state_size", 4)
                .putUint32("mamba.ssm.time_step_rank", 2)
                .putFloat32("mamba.attention.layer_norm_rms_epsilon", 1e-5f)
                .putBool("mamba.ssm.dt_b_c_rms", true)
                .putStrings("tokenizer.ggml.tokens", List.of("a", "b", "ab", "<|endoftext|>"))
                .putIntegers("tokenizer.ggml.token_type", GgufValueType.INT32, new long[] {1, 1, 1, 3})
                .putIntegers("small", GgufValueType.UINT8, new long[] {1, 2, 255})
                .putIntegers("shorts", GgufValueType.INT16, new long[] {-1, 300})
                .putIntegers("longs", GgufValueType.UINT64, new long[] {1L << 40})
                .put(
                        "nested",
                        new GgufValue(
                                GgufValueType.ARRAY,
                                GgufValueType.ARRAY,
                                List.of(new GgufValue(GgufValueType.ARRAY, GgufValueType.INT8, List.of(1L, -2L)))))
                .put("f64", new GgufValue(GgufValueType.FLOAT64, null, 0.5));
        w.addTensor("token_embd.weight", GgmlType.F32, new long[] {4, 32}, random(r, GgmlType.F32, 128));
        w.addTensor("blk.0.ssm_in.weight", GgmlType.Q8_0, new long[] {2, 64}, random(r, GgmlType.Q8_0, 128));
        w.addTensor("blk.0.ssm_x.weight", GgmlType.Q4_K, new long[] {1, 256}, random(r, GgmlType.Q4_K, 256));
        w.addTensor("blk.0.ssm_a", GgmlType.F16, new long[] {64, 4}, random(r, GgmlType.F16, 256));
        w.addTensor("blk.0.ssm_out.weight", GgmlType.Q6_K, new long[] {1, 256}, random(r, GgmlType.Q6_K, 256));
        w.addTensor("blk.0.ssm_d", GgmlType.BF16, new long[] {64}, random(r, GgmlType.BF16, 64));
        w.addTensor("empty", GgmlType.F32, new long[] {0, 8}, MemorySegment.ofArray(new byte[0]));
        return w.toBytes();
    }

    private static MemorySegment random(Random r, GgmlType t, long n) {
        byte[] b = new byte[(int) t.bytesFor(n)];
        r.nextBytes(b);
        return MemorySegment.ofArray(b);
    }

    @Test
    void damagedSmallFiles() throws IOException {
        byte[] seed = seedFile();
        // the seed itself must open: otherwise the test below only ever exercises the first check
        Path p = dir.resolve("seed.gguf");
        Files.write(p, seed);
        assertTrue(check(p));
        run(seed, 4000, 20261203L, seed.length);
    }

    @Test
    void damagedFixtureHeaders() throws IOException {
        byte[] fixture = Files.readAllBytes(GgufFixtures.file(GgufFixtures.FALCON, "Q2_K"));
        int headerEnd;
        try (GgufFile f = GgufFile.open(GgufFixtures.file(GgufFixtures.FALCON, "Q2_K"))) {
            headerEnd = (int) (f.fileSize()
                    - f.tensors().values().stream().mapToLong(t -> t.bytes()).sum());
        }
        run(fixture, 200, 99L, Math.max(64, headerEnd));
    }

    private void run(byte[] original, int iterations, long seed, int mutateBelow) throws IOException {
        Random rnd = new Random(seed);
        Path p = dir.resolve("fuzz.gguf");
        int opened = 0;
        for (int it = 0; it < iterations; it++) {
            byte[] b = mutate(original, rnd, mutateBelow);
            Files.write(p, b);
            try {
                if (check(p)) {
                    opened++;
                }
            } catch (Throwable t) {
                throw new AssertionError("iteration " + it + " (seed " + seed + "): unexpected " + t, t);
            }
        }
        assertTrue(opened > iterations / 50, "only " + opened + " of " + iterations + " damaged files opened");
    }

    /** @return whether the file opened */
    private static boolean check(Path p) {
        GgufFile f;
        try {
            f = GgufFile.open(p);
        } catch (GgufException expected) {
            assertTrue(expected.getMessage().contains(p.toString()), expected.getMessage());
            return false;
        }
        try (GgufWeights w = new GgufWeights(f)) {
            for (GgufTensorInfo t : f.tensors().values()) {
                if (t.type().readable() && t.elements() < 1_000_000) {
                    float[] out = new float[(int) t.elements()];
                    Dequantizer.dequantize(t.type(), f.data(t.name()), 0, out, 0, out.length);
                }
                String hf = MambaTensorNames.toHuggingFace(t.name());
                if (hf != null) {
                    try {
                        w.tensor(hf);
                    } catch (GgufException expected) {
                        assertTrue(expected.getMessage().contains(p.toString()), expected.getMessage());
                    }
                }
            }
            f.metadata().values().forEach(GgufValue::show);
            try {
                GgufModelConfig.read(f);
            } catch (GgufException expected) {
                assertTrue(expected.getMessage().contains(p.toString()), expected.getMessage());
            }
        }
        return true;
    }

    private static byte[] mutate(byte[] original, Random rnd, int below) {
        byte[] b = original.clone();
        int edits = 1 + rnd.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int at = rnd.nextInt(Math.min(below, b.length));
            switch (rnd.nextInt(6)) {
                case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> b[at] = (byte) new int[] {0, 0xFF, 0x7F, 0x80, 1, 32}[rnd.nextInt(6)];
                case 2 -> {
                    if (at + 8 <= b.length) {
                        long v = new long[] {-1L, Long.MAX_VALUE, 1L << 32, 1L << 62, 0, 1 << 20}[rnd.nextInt(6)];
                        ByteBuffer.wrap(b, at, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
                    }
                }
                case 3 -> b = java.util.Arrays.copyOf(b, at);
                case 4 -> {
                    if (at + 4 <= b.length) {
                        ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(rnd.nextInt(64));
                    }
                }
                default -> b[at] = (byte) rnd.nextInt(256);
            }
            if (b.length == 0) {
                break;
            }
        }
        return b;
    }
}
