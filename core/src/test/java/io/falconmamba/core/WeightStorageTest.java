package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link WeightStorage#IN_MEMORY}: the projection matrices are copied at load, so the model matches the Hugging
 * Face reference exactly as the mapped one does (same tolerance as {@link ModelReferenceTest}: 1e-4 against the
 * float64 logits), and it no longer reads the source's bytes for them.
 */
class WeightStorageTest {

    /**
     * Same bytes through the same kernels, but not always bit-identical: the JIT tier a kernel runs in moves the
     * last bits of the Vector API's exp and lane sums (measured 3e-7). Zeroing in_proj moves logits by > 1e-3.
     */
    static final double SAME = 1e-5;

    static List<String> models() {
        return Fixtures.ALL_MODELS;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void inMemoryModelMatchesReference(String name) {
        Reference ref = Reference.of(name);
        try (FalconMambaModel m = FalconMambaModel.create(
                Fixtures.config(name), Fixtures.weights(name), 2, Quantization.NONE, WeightStorage.IN_MEMORY)) {
            assertEquals(WeightStorage.IN_MEMORY, m.weightStorage());
            for (int s = 0; s < ref.sequences(); s++) {
                float[][] logits = m.prefillAllLogits(m.newState(), ref.inputIds(s), PrefillMode.PARALLEL);
                float[][] want = ref.tensors().rows("seq" + s + ".logits");
                for (int t = 0; t < logits.length; t++) {
                    double diff = Fixtures.maxAbsDiff(want[t], logits[t]);
                    assertTrue(
                            diff <= ModelReferenceTest.LOGIT_TOL, name + " seq " + s + " position " + t + ": " + diff);
                }
            }
        }
    }

    /**
     * Weights in writable memory; after both models are built every in_proj is zeroed. The mapped model sees the
     * change, the in-memory one must not.
     */
    @Test
    void inMemoryModelNoLongerReadsTheSource() {
        String name = "tiny-falcon-mamba";
        Fixtures.Tensors src = Fixtures.weights(name);
        Arena arena = Arena.ofConfined();
        Map<String, Tensor> copies = new HashMap<>();
        WeightSource writable = new WeightSource() {
            @Override
            public boolean contains(String n) {
                return src.contains(n);
            }

            @Override
            public Tensor tensor(String n) {
                return copies.computeIfAbsent(n, k -> {
                    Tensor t = src.tensor(k);
                    MemorySegment seg = arena.allocate(t.data().byteSize(), 64);
                    seg.copyFrom(t.data());
                    return new Tensor(k, t.type(), t.shape(), seg);
                });
            }
        };
        MambaConfig config = Fixtures.config(name);
        int[] ids = Reference.of(name).inputIds(0);
        try (arena;
                FalconMambaModel mapped =
                        FalconMambaModel.create(config, writable, 1, Quantization.NONE, WeightStorage.MAPPED);
                FalconMambaModel copied =
                        FalconMambaModel.create(config, writable, 1, Quantization.NONE, WeightStorage.IN_MEMORY)) {
            float[] before =
                    copied.prefill(copied.newState(), ids, PrefillMode.PARALLEL).clone();
            assertTrue(
                    Fixtures.maxAbsDiff(before, mapped.prefill(mapped.newState(), ids, PrefillMode.PARALLEL)) <= SAME);
            for (int l = 0; l < config.numLayers(); l++) {
                copies.get("backbone.layers." + l + ".mixer.in_proj.weight")
                        .data()
                        .fill((byte) 0);
            }
            assertTrue(
                    Fixtures.maxAbsDiff(before, copied.prefill(copied.newState(), ids, PrefillMode.PARALLEL)) <= SAME);
            assertTrue(
                    Fixtures.maxAbsDiff(before, mapped.prefill(mapped.newState(), ids, PrefillMode.PARALLEL)) > 1e-3,
                    "the mapped model reads the source in place");
        }
    }

    @Test
    void autoCopiesCheckpointsThatTakeAtMostHalfTheAvailableMemory() {
        long gb = 1L << 30;
        assertEquals(WeightStorage.IN_MEMORY, WeightStorage.resolve(3 * gb, 6 * gb));
        assertEquals(WeightStorage.MAPPED, WeightStorage.resolve(3 * gb + 1, 6 * gb));
        assertEquals(WeightStorage.MAPPED, WeightStorage.resolve(-1, 6 * gb), "size unknown");
        assertEquals(WeightStorage.MAPPED, WeightStorage.resolve(WeightStorage.MIN_COPY - 1, 6 * gb), "cache-sized");
        assertEquals(WeightStorage.IN_MEMORY, WeightStorage.resolve(WeightStorage.MIN_COPY, 6 * gb));
        assertEquals(WeightStorage.MAPPED, WeightStorage.resolve(gb, -1), "free memory unknown");
        assertEquals(WeightStorage.MAPPED, WeightStorage.MAPPED.resolve(1));
        assertEquals(WeightStorage.IN_MEMORY, WeightStorage.IN_MEMORY.resolve(Long.MAX_VALUE));
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/meminfo"))) {
            assertEquals(WeightStorage.IN_MEMORY, WeightStorage.AUTO.resolve(WeightStorage.MIN_COPY));
            assertEquals(WeightStorage.MAPPED, WeightStorage.AUTO.resolve(Long.MAX_VALUE));
        }
    }

    /** AUTO is decided at load against the source's size and reported as the storage it chose. */
    @Test
    void autoIsResolvedWhenTheModelIsBuilt() {
        String name = "tiny-mamba";
        Fixtures.Tensors src = Fixtures.weights(name);
        WeightSource sized = new WeightSource() {
            @Override
            public boolean contains(String n) {
                return src.contains(n);
            }

            @Override
            public Tensor tensor(String n) {
                return src.tensor(n);
            }

            @Override
            public long byteSize() {
                return Long.MAX_VALUE; // more than any machine has free
            }
        };
        try (FalconMambaModel unknown =
                        FalconMambaModel.create(Fixtures.config(name), src, 1, Quantization.NONE, WeightStorage.AUTO);
                FalconMambaModel tooLarge = FalconMambaModel.create(
                        Fixtures.config(name), sized, 1, Quantization.NONE, WeightStorage.AUTO)) {
            assertEquals(WeightStorage.MAPPED, unknown.weightStorage(), "a source of unknown size stays in place");
            assertEquals(WeightStorage.MAPPED, tooLarge.weightStorage());
        }
    }

    @Test
    void nullStorageIsRejected() {
        String name = "tiny-mamba";
        NullPointerException e = assertThrows(
                NullPointerException.class,
                () -> FalconMambaModel.create(
                        Fixtures.config(name), Fixtures.weights(name), 1, Quantization.NONE, null));
        assertTrue(e.getMessage().contains("storage"), e.getMessage());
    }
}
