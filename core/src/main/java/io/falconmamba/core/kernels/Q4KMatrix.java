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
 * A {@code rows × cols} matrix of Q4_K super-blocks (a GGUF file's, {@link Format#Q4_K}) rearranged at load into
 * tiles of {@link #TILE} rows, so that {@link Q4KMatVec} multiplies a tile's rows at once with broadcasts of x
 * and no horizontal sums, as {@link QuantizedMatrix} does for Q4_0. The weights are exactly the file's:
 * {@code w = (d·sc_g)·q - dmin·m_g} for the 6-bit scale {@code sc_g} and minimum {@code m_g} of its 32-weight
 * group {@code g}; only their order in memory and the width of {@code d} and {@code dmin} (floats here, the
 * halves widened exactly) differ.
 *
 * <p>Per tile, each 256-column super-block is {@link #SUPER_BLOCK_BYTES} bytes: the tile's {@code d} (TILE
 * floats), {@code dmin} (TILE floats), the eight groups' scales (TILE bytes each), the eight groups' minimums
 * (TILE bytes each), then the eight groups' quants, each 16 byte positions of TILE bytes: row {@code i}'s byte
 * {@code p} of group {@code g} holds column {@code 32g+p} in its low nibble and column {@code 32g+16+p} in its
 * high nibble XOR 8, the Q4_0 tiles' arrangement ({@link QuantizedMatrix#Q4_FLIP}), so both kernels widen the
 * same way. Rows past the end of the last tile are zero (scales 0).
 */
public record Q4KMatrix(String name, int rows, int cols, MemorySegment data) implements RowTiles {

    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfFloat F32 = Convert.F32;

    /** Rows per tile. */
    public static final int TILE = F.length();

    /** Columns per super-block. */
    static final int SUPER = 256;

    /** Columns per group (one scale and one minimum). */
    static final int GROUP = 32;

    /** Where, in a tile's super-block, the minimum scales, group scales, group minimums and quants begin. */
    static final int DMIN = 4 * TILE, SCALES = 8 * TILE, MINS = 16 * TILE, QUANTS = 24 * TILE;

    /** Bytes of one super-block of a tile. */
    static final int SUPER_BLOCK_BYTES = QUANTS + 8 * 16 * TILE;

    public Q4KMatrix {
        if (rows < 0 || cols < 0 || cols % SUPER != 0) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": " + rows + "×" + cols + " does not split into Q4_K blocks of " + SUPER);
        }
        long need = bytesFor(rows, cols);
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows
                    + "×" + cols + " Q4_K in tiles of " + TILE + " rows");
        }
    }

    private static long bytesFor(int rows, int cols) {
        return (long) ((rows + TILE - 1) / TILE) * (cols / SUPER) * SUPER_BLOCK_BYTES;
    }

    @Override
    public Format format() {
        return Format.Q4_K;
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

    /**
     * Rearranges a matrix of Q4_K blocks (a GGUF file's) into tiles in a segment of {@code arena}, tiles split
     * across {@code pool}: each thread copies a tile's rows whole (one sequential read of each), lays the tile out
     * in an array and writes it with one bulk copy, so the destination's pages are first touched by the thread
     * that fills them.
     */
    public static Q4KMatrix fromBlocks(BlockMatrix src, Arena arena, ThreadPool pool) {
        if (src.format() != Format.Q4_K) {
            throw new IllegalArgumentException("matrix " + src.name() + ": " + src.format() + " is not Q4_K");
        }
        long bytes = bytesFor(src.rows(), src.cols());
        MemorySegment data = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        Q4KMatrix m = new Q4KMatrix(src.name(), src.rows(), src.cols(), data);
        int rowBytes = (int) src.rowBytes();
        int supers = m.superBlocks();
        pool.parallelFor(m.tiles(), (from, to) -> {
            byte[] rows = new byte[TILE * rowBytes];
            byte[] tile = new byte[(int) m.tileBytes()];
            MemorySegment rowsSeg = MemorySegment.ofArray(rows);
            MemorySegment tileSeg = MemorySegment.ofArray(tile);
            for (int t = from; t < to; t++) {
                int count = Math.min(TILE, src.rows() - t * TILE);
                MemorySegment.copy(src.data(), I8, (long) t * TILE * rowBytes, rows, 0, count * rowBytes);
                Arrays.fill(tile, (byte) 0); // padding rows: d, dmin, scales and quants zero
                for (int i = 0; i < count; i++) {
                    for (int k = 0; k < supers; k++) {
                        layOut(rowsSeg, (long) i * rowBytes + 144L * k, tileSeg, (long) k * SUPER_BLOCK_BYTES, i);
                    }
                }
                MemorySegment.copy(tile, 0, data, I8, t * m.tileBytes(), tile.length);
            }
        });
        return m;
    }

    /** Row {@code i}'s Q4_K block at {@code src[at ..)} into its place in the tile super-block at {@code dst[to ..)}. */
    private static void layOut(MemorySegment src, long at, MemorySegment dst, long to, int i) {
        dst.set(F32, to + 4L * i, Float.float16ToFloat(src.get(Convert.I16, at)));
        dst.set(F32, to + DMIN + 4L * i, Float.float16ToFloat(src.get(Convert.I16, at + 2)));
        long s0 = src.get(BlockMatrix.I64, at + 4);
        long s1 = src.get(Convert.I32, at + 12) & 0xFFFFFFFFL;
        long sc = KQuantMatrix.scales6(s0, s1);
        long mn = KQuantMatrix.mins6(s0, s1);
        for (int g = 0; g < 8; g++) {
            dst.set(I8, to + SCALES + (long) g * TILE + i, (byte) (sc >>> (8 * g)));
            dst.set(I8, to + MINS + (long) g * TILE + i, (byte) (mn >>> (8 * g)));
            // Group g's weight j is nibble g % 2 of byte 32·(g / 2) + j of the block's quants.
            long q = at + 16 + 32L * (g / 2);
            int shift = 4 * (g % 2);
            long base = to + QUANTS + 16L * TILE * g + i;
            for (int p = 0; p < 16; p++) {
                int lo = (src.get(I8, q + p) >>> shift) & 0xF;
                int hi = (src.get(I8, q + 16 + p) >>> shift) & 0xF;
                dst.set(I8, base + (long) p * TILE, (byte) ((lo | hi << 4) ^ QuantizedMatrix.Q4_FLIP));
            }
        }
    }

    /** Where row {@code r}'s super-block {@code k} begins, and the row's place {@code i} in its tile. */
    private long superBlock(int r, int k) {
        return (r / TILE) * tileBytes() + (long) k * SUPER_BLOCK_BYTES;
    }

    /** Row {@code r} as ggml's {@code dequantize_row_q4_K} computes it, into {@code out[off .. off+cols)}. */
    @Override
    public void rowToFloats(int r, float[] out, int off) {
        int i = r % TILE;
        for (int k = 0; k < superBlocks(); k++) {
            long at = superBlock(r, k);
            float d = data.get(F32, at + 4L * i);
            float dmin = data.get(F32, at + DMIN + 4L * i);
            for (int g = 0; g < 8; g++) {
                float scale = d * data.get(I8, at + SCALES + (long) g * TILE + i);
                float min = dmin * data.get(I8, at + MINS + (long) g * TILE + i);
                int o = off + k * SUPER + g * GROUP;
                for (int p = 0; p < 16; p++) {
                    int b = (data.get(I8, at + QUANTS + 16L * TILE * g + (long) p * TILE + i) ^ QuantizedMatrix.Q4_FLIP)
                            & 0xFF;
                    out[o + p] = scale * (b & 0xF) - min;
                    out[o + 16 + p] = scale * (b >>> 4) - min;
                }
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
            FloatVector dmin = FloatVector.fromMemorySegment(F, data, at + DMIN, LE);
            for (int g = 0; g < 8; g++) {
                FloatVector scale = bytes(at + SCALES + (long) g * TILE).mul(d);
                FloatVector min = bytes(at + MINS + (long) g * TILE).mul(dmin);
                int c0 = k * SUPER + g * GROUP;
                for (int p = 0; p < 16; p++) {
                    ByteVector q = ByteVector.fromMemorySegment(
                            QMatVec.B, data, at + QUANTS + 16L * TILE * g + (long) p * TILE, LE);
                    FloatVector lo = QMatVec.lo(q);
                    // signed(q) - lo is 16·(hi - 8): hi itself is that over 16, plus 8.
                    FloatVector hi = QMatVec.signed(q).sub(lo).mul(1f / 16).add(8f);
                    lo.mul(scale).sub(min).intoArray(out, (c0 + p) * stride + lane);
                    hi.mul(scale).sub(min).intoArray(out, (c0 + 16 + p) * stride + lane);
                }
            }
        }
    }

    /** TILE bytes from {@code at} (scales or minimums, 0..63), as floats. */
    private FloatVector bytes(long at) {
        return (FloatVector)
                ByteVector.fromMemorySegment(QMatVec.B, data, at, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (QMatVec.VECTOR) {
            Q4KMatVec.multiply(this, x, xOff, out, outOff, pool);
        } else {
            RowTiles.super.matVec(x, xOff, out, outOff, pool);
        }
    }
}
