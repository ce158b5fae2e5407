package io.falconmamba.loader;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.Tensor;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Randomly damaged safetensors files: each must either open (and then every tensor reads, or fails with
 * {@link SafetensorsException}) or fail to open with {@link SafetensorsException}. Nothing else may escape.
 */
class SafetensorsFuzzTest {

    private static final byte[] INTERESTING = "{}[]\":,-0123456789eE. \u0000\\".getBytes();

    @TempDir
    Path dir;

    /** A small file with several dtypes, metadata and an empty tensor, so damage lands in the header often. */
    private static byte[] seedFile() {
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.25f - 3;
        }
        return new SafetensorsWriter()
                .metadata("format", "pt")
                .addF32("backbone.norm_f.weight", new long[] {4, 6}, v)
                .addBF16("backbone.layers.0.mixer.D", new long[] {24}, v)
                .addF16("backbone.layers.0.mixer.A_log", new long[] {2, 3, 4}, v)
                .addRaw("step", SafetensorsDType.I64, new long[] {}, new byte[8])
                .addRaw("mask", SafetensorsDType.BOOL, new long[] {3}, new byte[] {0, 1, 0})
                .addF32("empty", new long[] {0, 5}, new float[0])
                .toBytes();
    }

    @Test
    void damagedSmallFiles() throws IOException {
        run(seedFile(), 3000, 20240611L, false);
    }

    @Test
    void damagedFixtureHeaders() throws IOException {
        byte[] fixture = Files.readAllBytes(TestFiles.fixtures().resolve("tiny-falcon-mamba-bf16/model.safetensors"));
        run(fixture, 150, 99L, true);
    }

    private void run(byte[] original, int iterations, long seed, boolean headerOnly) throws IOException {
        Random rnd = new Random(seed);
        long headerEnd = 8 + (original[0] & 0xFF | (original[1] & 0xFF) << 8 | (original[2] & 0xFF) << 16);
        int opened = 0;
        Path p = dir.resolve("fuzz.safetensors");
        for (int it = 0; it < iterations; it++) {
            byte[] b = mutate(original, rnd, (int) headerEnd, headerOnly);
            Files.write(p, b);
            try {
                if (check(p)) {
                    opened++;
                }
            } catch (Throwable t) {
                throw new AssertionError("iteration " + it + " (seed " + seed + "): unexpected " + t, t);
            }
        }
        // sanity: the mutations are not all fatal, so the read path is exercised too
        assertTrue(opened > iterations / 50, "only " + opened + " of " + iterations + " damaged files opened");
    }

    /** @return whether the file opened */
    private static boolean check(Path p) {
        SafetensorsFile f;
        try {
            f = SafetensorsFile.open(p);
        } catch (SafetensorsException expected) {
            assertTrue(expected.getMessage().contains(p.toString()), expected.getMessage());
            return false;
        }
        try (f) {
            for (TensorInfo info : f.infos()) {
                long bytes = f.slice(info.name()).toArray(ValueLayout.JAVA_BYTE).length;
                if (bytes != info.byteSize()) {
                    throw new AssertionError("slice size " + bytes + " != " + info);
                }
                try {
                    Tensor t = f.tensor(info.name());
                    float[] values = t.toFloatArray();
                    if (values.length != info.elementCount()) {
                        throw new AssertionError("element count mismatch " + info);
                    }
                } catch (SafetensorsException notFloat) {
                    if (info.dtype().weightType() != null) {
                        throw notFloat;
                    }
                }
            }
        }
        return true;
    }

    private static byte[] mutate(byte[] src, Random rnd, int headerEnd, boolean headerOnly) {
        int kind = rnd.nextInt(6);
        byte[] b;
        if (kind == 0) { // truncate anywhere
            int limit = headerOnly ? Math.min(src.length, headerEnd + 64) : src.length;
            return Arrays.copyOf(src, rnd.nextInt(limit));
        }
        b = src.clone();
        int edits = 1 + rnd.nextInt(kind == 5 ? 8 : 2);
        for (int e = 0; e < edits; e++) {
            // mostly inside the header, where damage matters
            int pos = rnd.nextInt(10) < 8 || headerOnly ? rnd.nextInt(headerEnd) : rnd.nextInt(b.length);
            switch (kind) {
                case 1 -> b[pos] ^= (byte) (1 << rnd.nextInt(8)); // bit flip
                case 2 -> b[pos] = (byte) rnd.nextInt(256); // random byte
                case 3 -> b[pos] = INTERESTING[rnd.nextInt(INTERESTING.length)]; // JSON-ish byte
                case 4 -> b[rnd.nextInt(8)] = (byte) rnd.nextInt(256); // length prefix
                default -> b[pos] = (byte) ('0' + rnd.nextInt(10)); // digits: shifts offsets and shapes
            }
        }
        if (rnd.nextInt(8) == 0) { // sometimes also cut the tail
            b = Arrays.copyOf(b, Math.max(0, b.length - 1 - rnd.nextInt(64)));
        }
        return b;
    }
}
