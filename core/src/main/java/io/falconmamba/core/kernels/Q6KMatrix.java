package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.LE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A {@code rows × cols} matrix of Q6_K super-blocks (a GGUF file's, {@link Format#Q6_K}; llama-quantize writes the
 * output head of its Q4_0 and Q4_K_M files so) rearranged at load into tiles of {@link #TILE} rows for
 * {@link Q6KMatVec}. The weights are exactly the file's: {@code w = (d·sc_g)·(q - 32)} for the int8 scale
 * {@code sc_g} of its 16-weight group {@code g} and the 6-bit quant {@code q}.
 *
 * <p>Per tile, each 256-column super-block is {@link #SUPER_BLOCK_BYTES} bytes: the tile's {@code d} (TILE floats,
 * the halves widened exactly), the sixteen groups' scales (TILE bytes each), then the centred quants
 * {@code q - 32} one signed byte each: per group, eight column pairs, each the tile's rows at the pair's first
 * column (TILE bytes) then at its second. One load of a pair widens to a vector of shorts that a pair vector of x
 * ({@link QMatVec#pairs}) multiplies. Unpacking the 6-bit quants once at load costs a quarter more bytes than the
 * file's 6.56 bits a weight, and saves the kernel the bit shuffling per weight. Rows past the last are zero.
 */
public record Q6KMatrix(String name, int rows, int cols, MemorySegment data) implements RowTiles {

    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** Rows per tile. */
    public static final int TILE = F.length();

    /** Columns per super-block. */
    static final int SUPER = 256;

    /** Columns per group (one scale). */
    static final int GROUP = 16;

    /** Where, in a tile's super-block, the group scales and the quants begin. */
    static final int SCALES = 4 * TILE, QUANTS = 20 * TILE;

    /** Bytes of one super-block of a tile. */
    static final int SUPER_BLOCK_BYTES = QUANTS + SUPER * TILE;

    public Q6KMatrix {
        if (rows < 0 || cols < 0 || cols % SUPER != 0) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": " + rows + "×" + cols + " does not split into Q6_K blocks of " + SUPER);
        }
        long need = bytesFor(rows, cols);
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows
                    + "×" + cols + " Q6_K in tiles of " + TILE + " rows");
        }
    }

    private static long bytesFor(int rows, int cols) {
        return (long) ((rows + TILE - 1) / TILE) * (cols / SUPER) * SUPER_BLOCK_BYTES;
    }

    @Override
    public Format format() {
        return Format.Q6_K;
    }

    @Override
    public int tiles() {
        return (rows + TILE - 1) / TILE;
    }

    /** Super-blocks per row. */
    int superBlocks() {
        return cols / SUPER;
    }

    /** Bytes of one tile (all its super-blocks). */
    long tileBytes() {
        return (long) superBlocks() * SUPER_BLOCK_BYTES;
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /** Where column {@code j} (0..255) of a super-block puts its quants: its group's pair, then its half. */
    static int quantOffset(int j) {
        int g = j / GROUP;
        int k = (j % GROUP) / 2;
        return QUANTS + GROUP * TILE * g + 2 * TILE * k + TILE * (j % 2);
    }

    /**
     * Rearranges a matrix of Q6_K blocks (a GGUF file's) into tiles in a segment of {@code arena}, tiles split
     * across {@code pool}: each thread copies a tile's rows whole, lays the tile out in an array and writes it with
     * one bulk copy, so the destination's pages are first touched by the thread that fills them.
     */
    public static Q6KMatrix fromBlocks(BlockMatrix src, Arena arena, ThreadPool pool) {
        if (src.format() != Format.Q6_K) {
            throw new IllegalArgumentException("matrix " + src.name() + ": " + src.format() + " is not Q6_K");
        }
        long bytes = bytesFor(src.rows(), src.cols());
        MemorySegment data = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        Q6KMatrix m = new Q6KMatrix(src.name(), src.rows(), src.cols(), data);
        int rowBytes = (int) src.rowBytes();
        int supers = m.superBlocks();
        int[] offsets = new int[SUPER];
        for (int j = 0; j < SUPER; j++) {
            offsets[j] = quantOffset(j);
        }
        pool.parallelFor(m.tiles(), (from, to) -> {
            byte[] rows = new byte[TILE * rowBytes];
            byte[] tile = new byte[(int) m.tileBytes()];
            MemorySegment tileSeg = MemorySegment.ofArray(tile);
            for (int t = from; t < to; t++) {
                int count = Math.min(TILE, src.rows() - t * TILE);
                MemorySegment.copy(src.data(), I8, (long) t * TILE * rowBytes, rows, 0, count * rowBytes);
                Arrays.fill(tile, (byte) 0); // padding rows: d, scales and quants zero
                for (int i = 0; i < count; i++) {
                    for (int k = 0; k < supers; k++) {
                        int at = i * rowBytes + 210 * k;
                        int to0 = k * SUPER_BLOCK_BYTES + i;
                        short half = (short) ((rows[at + 208] & 0xFF) | rows[at + 209] << 8);
                        tileSeg.set(Convert.F32, k * SUPER_BLOCK_BYTES + 4L * i, Float.float16ToFloat(half));
                        for (int g = 0; g < 16; g++) {
                            tile[to0 + SCALES + g * TILE] = rows[at + 192 + g];
                        }
                        // ggml's order: each 128-column half reads 64 low-nibble bytes and 32 bytes of bit pairs.
                        for (int h = 0; h < 2; h++) {
                            int ql = at + 64 * h;
                            int qh = at + 128 + 32 * h;
                            for (int l = 0; l < 32; l++) {
                                int a = rows[ql + l] & 0xFF;
                                int b = rows[ql + 32 + l] & 0xFF;
                                int hb = rows[qh + l] & 0xFF;
                                int c = 128 * h + l;
                                tile[to0 + offsets[c]] = (byte) (((a & 0xF) | (hb & 3) << 4) - 32);
                                tile[to0 + offsets[c + 32]] = (byte) (((b & 0xF) | (hb >>> 2 & 3) << 4) - 32);
                                tile[to0 + offsets[c + 64]] = (byte) (((a >>> 4) | (hb >>> 4 & 3) << 4) - 32);
                                tile[to0 + offsets[c + 96]] = (byte) (((b >>> 4) | (hb >>> 6 & 3) << 4) - 32);
                            }
                        }
                    }
                }
                MemorySegment.copy(tile, 0, data, I8, t * m.tileBytes(), tile.length);
            }
        });
        return m;
    }

    /** Row {@code r} as ggml's {@code dequantize_row_q6_K} computes it, into {@code out[off .. off+cols)}. */
    @Override
    public void rowToFloats(int r, float[] out, int off) {
        int i = r % TILE;
        long base = (r / TILE) * tileBytes();
        for (int k = 0; k < superBlocks(); k++) {
            long at = base + (long) k * SUPER_BLOCK_BYTES;
            float d = data.get(Convert.F32, at + 4L * i);
            for (int j = 0; j < SUPER; j++) {
                float scale = d * data.get(I8, at + SCALES + (long) (j / GROUP) * TILE + i);
                out[off + k * SUPER + j] = scale * data.get(I8, at + quantOffset(j) + i);
            }
        }
    }

    /** The tile's rows widened with the same float steps as {@link #rowToFloats}, a vector of rows at a time. */
    @Override
    public void tileToFloats(int tile, float[] out, int lane, int stride) {
        if (!QMatVec.VECTOR) {
            tileByRows(tile, out, lane, stride);
            return;
        }
        long base = tile * tileBytes();
        for (int k = 0; k < superBlocks(); k++) {
            long at = base + (long) k * SUPER_BLOCK_BYTES;
            FloatVector d = FloatVector.fromMemorySegment(F, data, at, LE);
            for (int g = 0; g < SUPER / GROUP; g++) {
                FloatVector scale = bytes(at + SCALES + (long) g * TILE).mul(d);
                for (int j = 0; j < GROUP; j++) {
                    int c = g * GROUP + j;
                    bytes(at + quantOffset(c)).mul(scale).intoArray(out, (k * SUPER + c) * stride + lane);
                }
            }
        }
    }

    /** TILE signed bytes from {@code at}, as floats. */
    private FloatVector bytes(long at) {
        return (FloatVector)
                ByteVector.fromMemorySegment(QMatVec.B, data, at, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (QMatVec.VECTOR) {
            Q6KMatVec.multiply(this, x, xOff, out, outOff, pool);
        } else {
            RowTiles.super.matVec(x, xOff, out, outOff, pool);
        }
    }
}
