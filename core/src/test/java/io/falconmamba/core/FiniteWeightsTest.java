package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.Generator;
import io.falconmamba.core.testutil.Fixtures;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** A corrupted download (NaN or infinity in the weights) is caught at load, not by a stream of garbage tokens. */
class FiniteWeightsTest {

    static final String MODEL = "tiny-falcon-mamba";

    /** The fixture's weights with {@code name}'s values passed through {@code change}. */
    static WeightSource with(String name, UnaryOperator<float[]> change) {
        WeightSource base = Fixtures.weights(MODEL);
        return new WeightSource() {
            @Override
            public boolean contains(String n) {
                return base.contains(n);
            }

            @Override
            public Tensor tensor(String n) {
                Tensor t = base.tensor(n);
                if (!n.equals(name)) {
                    return t;
                }
                float[] v = change.apply(t.toFloatArray());
                ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(v);
                return new Tensor(n, WeightType.F32, t.shape(), MemorySegment.ofArray(b.array()));
            }
        };
    }

    static UnaryOperator<float[]> poison(int at, float value) {
        return v -> {
            v[at % v.length] = value;
            return v;
        };
    }

    @Test
    void nonFiniteNormsABiasesAndDAreLoadErrorsNamingTheTensor() {
        MambaConfig c = Fixtures.config(MODEL);
        String m = "backbone.layers.1.mixer.";
        for (String name : new String[] {
            "backbone.norm_f.weight",
            "backbone.layers.0.norm.weight",
            m + "A_log",
            m + "D",
            m + "dt_proj.bias",
            m + "conv1d.bias"
        }) {
            for (float bad : new float[] {Float.NaN, Float.NEGATIVE_INFINITY}) {
                IllegalArgumentException e = assertThrows(
                        IllegalArgumentException.class,
                        () -> FalconMambaModel.create(c, with(name, poison(7, bad)), 1),
                        name);
                assertTrue(e.getMessage().contains(name), e.getMessage());
                assertTrue(e.getMessage().contains(Float.toString(bad)), e.getMessage());
            }
        }
    }

    @Test
    void aNonFiniteMatrixElementIsFoundByTheSampledScan() {
        Tensor clean = Fixtures.weights(MODEL).tensor("backbone.layers.0.mixer.in_proj.weight");
        assertEquals(-1, FiniteCheck.scanMatrix(clean));
        // The scan reads both ends and a stride between; the first element is always among them.
        Tensor bad = with("backbone.layers.0.mixer.in_proj.weight", poison(0, Float.NaN))
                .tensor("backbone.layers.0.mixer.in_proj.weight");
        assertEquals(0, FiniteCheck.scanMatrix(bad));
    }

    @Test
    void aSingleNanBetweenTheSampledRunsIsFoundByTheFullScanOnly() {
        String name = "backbone.layers.0.mixer.in_proj.weight"; // 256 × 64: sampled, runs of 64 spaced ~260 apart
        Tensor bad = with(name, poison(100, Float.NaN)).tensor(name);
        assertEquals(-1, FiniteCheck.scanMatrix(bad));
        System.setProperty(FiniteCheck.FULL_SCAN_PROPERTY, "true");
        try {
            assertEquals(100, FiniteCheck.scanMatrix(bad));
        } finally {
            System.clearProperty(FiniteCheck.FULL_SCAN_PROPERTY);
        }
    }

    @Test
    void allNanMatricesFailGenerationInsteadOfEmittingTokenZero() {
        MambaConfig c = Fixtures.config(MODEL);
        try (FalconMambaModel model = FalconMambaModel.create(
                c,
                with("lm_head.weight", v -> {
                    java.util.Arrays.fill(v, Float.NaN);
                    return v;
                }),
                1)) {
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> Generator.generate(
                            model,
                            new int[] {1, 2, 3},
                            GenerationConfig.builder().maxNewTokens(5).build(),
                            null));
            assertTrue(e.getMessage().contains("output holds NaN"), e.getMessage());
        }
    }

    /** A Q8_0 tensor of two rows of two blocks: quants j - 16 in every block, scale 1/4 except where given. */
    static Tensor q8Rows(short secondRowScale) {
        ByteBuffer b = ByteBuffer.allocate(4 * 34).order(ByteOrder.LITTLE_ENDIAN);
        for (int block = 0; block < 4; block++) {
            b.putShort(block == 2 ? secondRowScale : Float.floatToFloat16(0.25f));
            for (int j = 0; j < 32; j++) {
                b.put((byte) (j - 16));
            }
        }
        return new Tensor(
                "q8", io.falconmamba.core.kernels.Format.Q8_0, new long[] {2, 64}, MemorySegment.ofArray(b.array()));
    }

    @Test
    void blockTensorsAreReadByRangeAcrossRows() {
        Tensor t = q8Rows(Float.floatToFloat16(0.5f));
        float[] got = new float[100];
        t.get(20, 120, got);
        for (int i = 20; i < 120; i++) {
            float scale = i >= 64 && i < 96 ? 0.5f : 0.25f;
            assertEquals((i % 32 - 16) * scale, got[i - 20], "element " + i);
        }
        assertThrows(IndexOutOfBoundsException.class, () -> t.get(100, 129, new float[29]));
    }

    @Test
    void aNonFiniteBlockScaleIsFound() {
        assertEquals(-1, FiniteCheck.scanMatrix(q8Rows(Float.floatToFloat16(0.5f))));
        assertEquals(64, FiniteCheck.scanMatrix(q8Rows((short) 0x7E00)), "row 1's first block has a NaN scale");
    }
}
