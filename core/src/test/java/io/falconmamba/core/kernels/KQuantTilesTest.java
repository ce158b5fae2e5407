package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * K-quant blocks rearranged into tiles ({@link Q4KMatrix}, {@link Q6KMatrix}): the weights are ggml's
 * ({@link KQuantMatrix} decodes the same blocks as {@code dequantize_row_q4_K} / {@code _q6_K} do, bit for bit),
 * and the tiled kernels' products match them.
 */
class KQuantTilesTest {

    /** Rows: whole groups of four tiles, a lone tile and a partial one, at either vector width. */
    private static final int ROWS = 37 * QuantizedMatrix.TILE + 5;

    private static final int COLS = 3 * 256;

    /** Random blocks: every byte random, the half scales small and finite. */
    private static BlockMatrix randomBlocks(Format f, Arena arena, int rows, int cols, Random rnd) {
        long rb = f.rowBytes(cols);
        MemorySegment seg = arena.allocate(rows * rb);
        for (long i = 0; i < rows * rb; i++) {
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        }
        for (long at = 0; at < rows * rb; at += f.blockBytes()) {
            if (f == Format.Q6_K) {
                seg.set(Convert.I16, at + 208, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
            } else {
                seg.set(Convert.I16, at, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
                seg.set(Convert.I16, at + 2, Float.floatToFloat16((float) (rnd.nextGaussian() * 0.01)));
            }
        }
        return BlockMatrix.of("blk.0.ssm_in.weight", rows, cols, f, seg);
    }

    private static RowTiles tiled(BlockMatrix b, Arena arena, ThreadPool pool) {
        return b.format() == Format.Q4_K ? Q4KMatrix.fromBlocks(b, arena, pool) : Q6KMatrix.fromBlocks(b, arena, pool);
    }

    @ParameterizedTest
    @EnumSource(
            value = Format.class,
            names = {"Q4_K", "Q6_K"})
    void rowsAndTilesAreTheBlocksWeightsBitForBit(Format f) {
        Random rnd = new Random(41);
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(2)) {
            BlockMatrix blocks = randomBlocks(f, arena, ROWS, COLS, rnd);
            RowTiles tiles = tiled(blocks, arena, pool);
            assertEquals(f, tiles.format());
            float[] want = new float[COLS];
            float[] got = new float[COLS];
            for (int r = 0; r < ROWS; r++) {
                blocks.rowToFloats(r, want, 0);
                tiles.rowToFloats(r, got, 0);
                for (int c = 0; c < COLS; c++) {
                    assertEquals(Float.floatToIntBits(want[c]), Float.floatToIntBits(got[c]), "row " + r + " col " + c);
                }
            }
            int l = QuantizedMatrix.TILE;
            float[] tile = new float[COLS * l];
            for (int t = 0; t < tiles.tiles(); t++) {
                tiles.tileToFloats(t, tile, 0, l);
                for (int i = 0; i < l; i++) {
                    int r = t * l + i;
                    if (r < ROWS) {
                        blocks.rowToFloats(r, want, 0);
                    } else {
                        Arrays.fill(want, 0f);
                    }
                    for (int c = 0; c < COLS; c++) {
                        assertEquals(
                                Float.floatToIntBits(want[c]),
                                Float.floatToIntBits(tile[c * l + i]),
                                "tile " + t + " lane " + i + " col " + c);
                    }
                }
            }
        }
    }

    /**
     * x chosen so that its Q8_0 quantization is exact (integers times 2^-7, each 32-column block reaching ±127):
     * the kernels' integer sums are then the exact products of the quants, and the result differs from the double
     * product of the decoded weights only by float32 roundings of the group and super-block sums (and, for Q6_K,
     * of each decoded weight, which is {@code (d·sc)·q} rounded once), a few units of 2^-24 of the sum of |w·x|.
     */
    @ParameterizedTest
    @EnumSource(
            value = Format.class,
            names = {"Q4_K", "Q6_K"})
    void decodeMatchesTheDecodedWeightsForExactlyQuantizedX(Format f) {
        Random rnd = new Random(43);
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(2)) {
            BlockMatrix blocks = randomBlocks(f, arena, ROWS, COLS, rnd);
            RowTiles tiles = tiled(blocks, arena, pool);
            float[] x = new float[COLS + 3];
            for (int c = 0; c < COLS; c++) {
                x[3 + c] = (rnd.nextInt(255) - 127) * 0x1p-7f;
            }
            for (int b = 0; b < COLS; b += 32) {
                x[3 + b + rnd.nextInt(32)] = rnd.nextBoolean() ? 127 * 0x1p-7f : -127 * 0x1p-7f;
            }
            float[] out = new float[ROWS + 2];
            tiles.matVec(x, 3, out, 2, pool);
            float[] row = new float[COLS];
            for (int r = 0; r < ROWS; r++) {
                blocks.rowToFloats(r, row, 0);
                double want = 0;
                double magnitude = 0;
                for (int c = 0; c < COLS; c++) {
                    want += (double) row[c] * x[3 + c];
                    magnitude += Math.abs((double) row[c] * x[3 + c]);
                }
                assertEquals(want, out[2 + r], 1e-5 * magnitude + 1e-30, f + " row " + r);
            }
        }
    }

    /**
     * Every row's result is bit for bit the same on any number of threads: with fewer than 32 tiles the pool hands
     * out single tiles, so each thread count runs a different set of tiles in four-tile passes.
     */
    @ParameterizedTest
    @EnumSource(
            value = Format.class,
            names = {"Q4_K", "Q6_K"})
    void decodeIsTheSameOnEveryThreadCountAndPass(Format f) {
        Random rnd = new Random(47);
        int rows = 20 * QuantizedMatrix.TILE + 3;
        int cols = 2048; // above MatVec.INLINE_BYTES, so the pools do split it
        try (Arena arena = Arena.ofShared();
                ThreadPool one = new ThreadPool(1);
                ThreadPool two = new ThreadPool(2);
                ThreadPool three = new ThreadPool(3)) {
            RowTiles tiles = tiled(randomBlocks(f, arena, rows, cols, rnd), arena, two);
            float[] x = new float[cols];
            for (int c = 0; c < cols; c++) {
                x[c] = (float) rnd.nextGaussian();
            }
            float[] a = new float[rows];
            float[] b = new float[rows];
            float[] c = new float[rows];
            tiles.matVec(x, 0, a, 0, one);
            tiles.matVec(x, 0, b, 0, two);
            tiles.matVec(x, 0, c, 0, three);
            for (int r = 0; r < rows; r++) {
                assertEquals(Float.floatToIntBits(a[r]), Float.floatToIntBits(b[r]), "2 threads, row " + r);
                assertEquals(Float.floatToIntBits(a[r]), Float.floatToIntBits(c[r]), "3 threads, row " + r);
            }
        }
    }

    @Test
    void otherFormatsAndWidthsAreRefusedNamingTheMatrix() {
        try (Arena arena = Arena.ofShared();
                ThreadPool pool = new ThreadPool(1)) {
            BlockMatrix q6 = BlockMatrix.of("blk.3.ssm_out.weight", 2, 256, Format.Q6_K, arena.allocate(2 * 210));
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> Q4KMatrix.fromBlocks(q6, arena, pool));
            assertTrue(e.getMessage().contains("blk.3.ssm_out.weight"), e.getMessage());
            BlockMatrix q4 = BlockMatrix.of("blk.4.ssm_in.weight", 2, 256, Format.Q4_K, arena.allocate(2 * 144));
            e = assertThrows(IllegalArgumentException.class, () -> Q6KMatrix.fromBlocks(q4, arena, pool));
            assertTrue(e.getMessage().contains("blk.4.ssm_in.weight"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new Q4KMatrix("m4", 2, 300, arena.allocate(1)));
            assertTrue(e.getMessage().contains("m4:"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new Q6KMatrix("m6", 2, 256, arena.allocate(7)));
            assertTrue(e.getMessage().contains("m6:"), e.getMessage());
        }
    }
}
