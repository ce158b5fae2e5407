package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.KernelsTest.absDot;
import static io.falconmamba.core.kernels.KernelsTest.assertClose;
import static io.falconmamba.core.kernels.KernelsTest.randomMatrix;
import static io.falconmamba.core.kernels.KernelsTest.randomVector;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link PackedMatrix} holds exactly the source's elements, and {@link PackedMatMul} (few tokens) and
 * {@link MatMul} over it (many tokens) match a scalar double-precision product, for row counts that leave a
 * partial tile and odd widths that leave a padding column.
 */
class PackedKernelsTest {

    private static final ThreadPool POOL = new ThreadPool(3);
    /** 1000: claims of many tiles, whose four-tile decode passes MatVec.STREAMS spreads apart. */
    private static final int[] ROWS = {1, 5, 16, 37, 1000};

    private static final int[] COLS = {1, 2, 7, 33, 64, 257};

    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        for (Format t : new Format[] {Format.F16, Format.BF16}) {
            for (int rows : ROWS) {
                for (int cols : COLS) {
                    out.add(Arguments.of(t, rows, cols));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}×{2}")
    @MethodSource("shapes")
    void packingKeepsEveryElement(Format type, int rows, int cols) {
        KernelsTest.Stored w = randomMatrix(new Random(rows * 1000L + cols), rows, cols, type);
        PackedMatrix p = PackedMatrix.pack(w.matrix(), Arena.ofAuto(), POOL);
        assertEquals(rows, p.rows());
        assertEquals(cols, p.cols());
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                assertEquals(w.values()[r][c], p.get(r, c), "element " + r + "," + c);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}×{2}")
    @MethodSource("shapes")
    void productsMatchScalar(Format type, int rows, int cols) {
        Random rnd = new Random(rows * 31L + cols + type.ordinal());
        KernelsTest.Stored w = randomMatrix(rnd, rows, cols, type);
        PackedMatrix p = PackedMatrix.pack(w.matrix(), Arena.ofAuto(), POOL);
        // 1: the four-tile decode pass; 3, 4, 8, 13: eight-, four- and one-token passes; 30, 100: MatMul's tiles
        for (int tokens : new int[] {1, 3, 4, 8, 13, 30, 100}) {
            int xStride = cols + 3;
            float[] x = randomVector(rnd, tokens * xStride);
            int outStride = rows + 2;
            float[] out = new float[tokens * outStride + 1];
            Arrays.fill(out, Float.NaN);
            MatrixProduct.multiply(p, x, 0, xStride, tokens, out, 1, outStride, POOL);
            for (int t = 0; t < tokens; t++) {
                float[] xt = Arrays.copyOfRange(x, t * xStride, t * xStride + cols);
                float[] want = ScalarKernels.matVec(w.values(), xt);
                for (int r = 0; r < rows; r++) {
                    assertClose(
                            want[r],
                            out[1 + t * outStride + r],
                            absDot(w.values()[r], xt),
                            type + " " + tokens + " tokens: token " + t + " row " + r);
                }
                // nothing written between one token's rows and the next
                for (int r = rows; r < outStride && 1 + t * outStride + r < out.length; r++) {
                    assertTrue(Float.isNaN(out[1 + t * outStride + r]), "wrote past row " + rows + " of token " + t);
                }
            }
        }
    }

    /** Tokens 2^200 apart in one F16 call: each is scaled on its own, as in MatVec.split. */
    @Test
    void f16TokensAreScaledOnTheirOwn() {
        KernelsTest.assertTokensScaledOnTheirOwn(
                new Random(3),
                21,
                130,
                new int[] {-100, 100, 0, -40, 40, 12, -12, 3, 90},
                (w, x, tokens, out) -> PackedMatMul.multiply(
                        PackedMatrix.pack(w, Arena.ofAuto(), POOL), x, 0, w.cols(), tokens, out, 0, w.rows(), POOL));
    }

    @Test
    void f32IsNotPacked() {
        KernelsTest.Stored w = randomMatrix(new Random(1), 4, 8, Format.F32);
        assertTrue(!PackedMatrix.packable(w.matrix()));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> PackedMatrix.pack(w.matrix(), Arena.ofAuto(), POOL));
        assertTrue(e.getMessage().contains("F16 and BF16"), e.getMessage());
    }
}
