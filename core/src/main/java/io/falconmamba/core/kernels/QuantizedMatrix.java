package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.I16;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

/**
 * A {@code rows × cols} matrix in llama.cpp's Q8_0 or Q4_0 blocks (see {@link Format#Q8_0}, {@link Format#Q4_0}), held off-heap and
 * arranged in tiles for the kernels. The numbers are llama.cpp's (same scales, same quants; {@link #block} gives
 * a block's bytes exactly as llama.cpp stores it); only their order in memory differs.
 *
 * <p>Rows go in tiles of {@link #TILE} (one float vector's lanes). For each block of 32 columns a tile stores
 * the transpose of its rows' llama.cpp blocks: the {@code TILE} half scales (2 bytes each), then for every
 * further byte position {@code p} of the block, {@code TILE} bytes (row {@code i}'s byte at {@code i}). So one
 * small load gives a column's quants for all the tile's rows (Q8_0: column {@code p}; Q4_0: columns {@code p}
 * and {@code p + 16} in the two nibbles), and the kernels multiply by broadcasts of x with no horizontal sums,
 * one contiguous stream per tile, as {@link PackedMatrix} does for F16/BF16. Rows past the end of the last tile
 * are zero (scale 0). The tile size follows the vector width, so this layout exists in memory only.
 *
 * <p>Q4_0 bytes are stored with the high nibble XOR 8 ({@link #Q4_FLIP}): read as a signed byte, such a byte is
 * {@code 16·(hi - 8) + lo}, so the kernels get the high column's centred quant from a plain byte → float
 * widening, {@code (byte - lo) / 16}, without a byte shift (x86 has none; the Vector API emulates it slowly).
 */
public record QuantizedMatrix(String name, int rows, int cols, Format format, MemorySegment data) implements RowTiles {

    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** Rows per tile. */
    public static final int TILE = F.length();

    /** Weights per block, in both formats. */
    static final int BLOCK = 32;

    /** XORed into every stored Q4_0 quant byte: flips the high nibble's top bit (see the class comment). */
    static final byte Q4_FLIP = (byte) 0x80;

    public QuantizedMatrix {
        if (format != Format.Q8_0 && format != Format.Q4_0) {
            throw new IllegalArgumentException("matrix " + name + ": " + format + " is not Q8_0 or Q4_0");
        }
        if (rows < 0 || cols < 0 || cols % BLOCK != 0) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": " + rows + "×" + cols + " does not split into blocks of " + BLOCK);
        }
        long need = bytesFor(rows, cols, format);
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows
                    + "×" + cols + " " + format + " in tiles of " + TILE + " rows");
        }
    }

    private static long bytesFor(int rows, int cols, Format type) {
        return (long) ((rows + TILE - 1) / TILE) * (cols / BLOCK) * TILE * type.blockBytes();
    }

    /** Whether a matrix of {@code cols} columns can be quantized (whole blocks per row). */
    public static boolean quantizable(int cols) {
        return cols > 0 && cols % BLOCK == 0;
    }

    @Override
    public int tiles() {
        return (rows + TILE - 1) / TILE;
    }

    /** Blocks per row. */
    int blocks() {
        return cols / BLOCK;
    }

    /** Bytes of one block of a tile: {@code TILE} llama.cpp blocks, transposed. */
    long tileBlockBytes() {
        return (long) TILE * format.blockBytes();
    }

    /** Bytes of one tile (all its blocks). */
    long tileBytes() {
        return blocks() * tileBlockBytes();
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /** Where byte {@code p} of row {@code r}'s block {@code b} lies ({@code p} 0 and 1 are the half scale). */
    private long at(int r, int b, int p) {
        long base = (r / TILE) * tileBytes() + b * tileBlockBytes();
        int i = r % TILE;
        return p < 2 ? base + 2L * i + p : base + 2L * TILE + (long) (p - 2) * TILE + i;
    }

    /**
     * Quantizes {@code src} into a segment of {@code arena}, tiles split across {@code pool}. The source is read
     * as floats (F32, F16 or BF16 widened exactly), then each block is quantized as llama.cpp's reference does
     * ({@link #quantizeRow}), a tile at a time by {@link TileQuantizer}: the result is byte for byte what
     * quantizing row by row gives.
     */
    public static QuantizedMatrix quantize(Matrix src, Format type, Arena arena, ThreadPool pool) {
        if (type != Format.Q8_0 && type != Format.Q4_0) {
            throw new IllegalArgumentException("matrix " + src.name() + ": " + type + " is not Q8_0 or Q4_0");
        }
        if (!quantizable(src.cols())) {
            throw new IllegalArgumentException(
                    "matrix " + src.name() + ": " + src.cols() + " columns are not a multiple of " + BLOCK);
        }
        long bytes = bytesFor(src.rows(), src.cols(), type);
        MemorySegment data = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        QuantizedMatrix m = new QuantizedMatrix(src.name(), src.rows(), src.cols(), type, data);
        pool.parallelFor(m.tiles(), (from, to) -> {
            TileQuantizer q = new TileQuantizer(src, m);
            for (int t = from; t < to; t++) {
                q.quantize(t);
            }
        });
        return m;
    }

    /**
     * Rearranges a matrix already in Q8_0 or Q4_0 blocks (a GGUF file's) into tiles in a segment of {@code arena},
     * tiles split across {@code pool}: the same scales and quants, so the products are those of the blocks. Each
     * thread copies a tile's rows whole (one sequential read of each), transposes them in an array and writes the
     * finished tile with one bulk copy.
     */
    public static QuantizedMatrix fromBlocks(BlockMatrix src, Arena arena, ThreadPool pool) {
        Format type = src.format();
        if (type != Format.Q8_0 && type != Format.Q4_0) {
            throw new IllegalArgumentException("matrix " + src.name() + ": " + type + " is not Q8_0 or Q4_0");
        }
        long bytes = bytesFor(src.rows(), src.cols(), type);
        MemorySegment data = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        QuantizedMatrix m = new QuantizedMatrix(src.name(), src.rows(), src.cols(), type, data);
        int rowBytes = (int) src.rowBytes();
        int blockBytes = type.blockBytes();
        int blocks = m.blocks();
        byte flip = type == Format.Q4_0 ? Q4_FLIP : 0;
        long flips = (flip & 0xFFL) * 0x0101010101010101L; // the flip in every byte of a long
        pool.parallelFor(m.tiles(), (from, to) -> {
            byte[] rows = new byte[TILE * rowBytes];
            byte[] tile = new byte[(int) m.tileBytes()];
            for (int t = from; t < to; t++) {
                int count = Math.min(TILE, src.rows() - t * TILE);
                MemorySegment.copy(src.data(), I8, (long) t * TILE * rowBytes, rows, 0, count * rowBytes);
                Arrays.fill(rows, count * rowBytes, rows.length, (byte) 0); // padding rows: scale 0
                for (int b = 0; b < blocks; b++) {
                    int base = b * TILE * blockBytes;
                    for (int i = 0; i < TILE; i++) {
                        int at = i * rowBytes + b * blockBytes;
                        tile[base + 2 * i] = rows[at];
                        tile[base + 2 * i + 1] = rows[at + 1];
                    }
                    // The quants of whole groups of 8 real rows go 8 rows × 8 bytes at a time, transposed in
                    // longs; the rest (a last partial group, the padding rows, tiles narrower than 8) byte by byte.
                    int grouped = TILE % 8 == 0 ? count / 8 * 8 : 0;
                    for (int i = 0; i < grouped; i += 8) {
                        for (int p = 0; p < blockBytes - 2; p += 8) {
                            transpose8(
                                    rows,
                                    i * rowBytes + b * blockBytes + 2 + p,
                                    rowBytes,
                                    tile,
                                    base + 2 * TILE + p * TILE + i,
                                    TILE,
                                    flips);
                        }
                    }
                    for (int i = grouped; i < TILE; i++) {
                        int at = i * rowBytes + b * blockBytes;
                        byte f = i < count ? flip : 0; // padding rows stay zero bytes, as quantize leaves them
                        for (int p = 2; p < blockBytes; p++) {
                            tile[base + 2 * TILE + (p - 2) * TILE + i] = (byte) (rows[at + p] ^ f);
                        }
                    }
                }
                MemorySegment.copy(tile, 0, data, I8, t * m.tileBytes(), tile.length);
            }
        });
        return m;
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * Byte {@code j} of the 8 bytes at {@code src[from + k·srcStride ..]} (rows {@code k < 8}) goes to
     * {@code dst[to + j·dstStride + k]}, each XOR {@code flip}'s byte: an 8×8 byte transpose in three rounds of
     * masked swaps between longs (bytes, then pairs, then quads), where a byte loop moves 64 bytes one by one.
     */
    static void transpose8(byte[] src, int from, int srcStride, byte[] dst, int to, int dstStride, long flip) {
        long r0 = (long) LONGS.get(src, from) ^ flip;
        long r1 = (long) LONGS.get(src, from + srcStride) ^ flip;
        long r2 = (long) LONGS.get(src, from + 2 * srcStride) ^ flip;
        long r3 = (long) LONGS.get(src, from + 3 * srcStride) ^ flip;
        long r4 = (long) LONGS.get(src, from + 4 * srcStride) ^ flip;
        long r5 = (long) LONGS.get(src, from + 5 * srcStride) ^ flip;
        long r6 = (long) LONGS.get(src, from + 6 * srcStride) ^ flip;
        long r7 = (long) LONGS.get(src, from + 7 * srcStride) ^ flip;
        long t;
        long m1 = 0x00FF00FF00FF00FFL;
        t = ((r0 >>> 8) ^ r1) & m1;
        r1 ^= t;
        r0 ^= t << 8;
        t = ((r2 >>> 8) ^ r3) & m1;
        r3 ^= t;
        r2 ^= t << 8;
        t = ((r4 >>> 8) ^ r5) & m1;
        r5 ^= t;
        r4 ^= t << 8;
        t = ((r6 >>> 8) ^ r7) & m1;
        r7 ^= t;
        r6 ^= t << 8;
        long m2 = 0x0000FFFF0000FFFFL;
        t = ((r0 >>> 16) ^ r2) & m2;
        r2 ^= t;
        r0 ^= t << 16;
        t = ((r1 >>> 16) ^ r3) & m2;
        r3 ^= t;
        r1 ^= t << 16;
        t = ((r4 >>> 16) ^ r6) & m2;
        r6 ^= t;
        r4 ^= t << 16;
        t = ((r5 >>> 16) ^ r7) & m2;
        r7 ^= t;
        r5 ^= t << 16;
        long m4 = 0x00000000FFFFFFFFL;
        t = ((r0 >>> 32) ^ r4) & m4;
        r4 ^= t;
        r0 ^= t << 32;
        t = ((r1 >>> 32) ^ r5) & m4;
        r5 ^= t;
        r1 ^= t << 32;
        t = ((r2 >>> 32) ^ r6) & m4;
        r6 ^= t;
        r2 ^= t << 32;
        t = ((r3 >>> 32) ^ r7) & m4;
        r7 ^= t;
        r3 ^= t << 32;
        LONGS.set(dst, to, r0);
        LONGS.set(dst, to + dstStride, r1);
        LONGS.set(dst, to + 2 * dstStride, r2);
        LONGS.set(dst, to + 3 * dstStride, r3);
        LONGS.set(dst, to + 4 * dstStride, r4);
        LONGS.set(dst, to + 5 * dstStride, r5);
        LONGS.set(dst, to + 6 * dstStride, r6);
        LONGS.set(dst, to + 7 * dstStride, r7);
    }

    /** Quantizes {@code x[off .. off+n)} ({@code n} a multiple of 32) into blocks at {@code dst[base ..)}. */
    public static void quantizeRow(Format type, float[] x, int off, int n, MemorySegment dst, long base) {
        switch (type) {
            case Q8_0 -> quantizeRowQ8(x, off, n, dst, base);
            case Q4_0 -> quantizeRowQ4(x, off, n, dst, base);
            default -> throw new IllegalArgumentException(type + " is not Q8_0 or Q4_0");
        }
    }

    /** The scale of a Q8_0 block holding a NaN: the half NaN with only the quiet bit set. */
    private static final short NAN_SCALE = 0x7E00;

    /** llama.cpp {@code quantize_row_q8_0_ref}: {@code d = amax/127}, {@code q = roundf(x · (1/d))}. */
    static void quantizeRowQ8(float[] x, int off, int n, MemorySegment dst, long base) {
        for (int b = 0; b < n / BLOCK; b++) {
            int o = off + b * BLOCK;
            long at = base + (long) b * Format.Q8_0.blockBytes();
            float amax = 0f;
            for (int j = 0; j < BLOCK; j++) {
                amax = Math.max(amax, Math.abs(x[o + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            // A NaN weight makes d NaN, with whichever payload Math.max passed on (the JIT's and the interpreter's
            // differ): one NaN for all keeps the bytes the same from run to run.
            dst.set(I16, at, Float.isNaN(d) ? NAN_SCALE : Float.floatToFloat16(d));
            for (int j = 0; j < BLOCK; j++) {
                dst.set(I8, at + 2 + j, (byte) roundHalfAway(x[o + j] * id));
            }
        }
    }

    /**
     * llama.cpp {@code quantize_row_q4_0_ref}: {@code m} the first value of largest magnitude, {@code d = m / -8},
     * {@code q = min(15, (int8) (x · (1/d) + 8.5f))}; byte {@code j} = {@code q[j] | q[j+16] << 4}.
     */
    static void quantizeRowQ4(float[] x, int off, int n, MemorySegment dst, long base) {
        int half = BLOCK / 2;
        for (int b = 0; b < n / BLOCK; b++) {
            int o = off + b * BLOCK;
            long at = base + (long) b * Format.Q4_0.blockBytes();
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < BLOCK; j++) {
                float v = x[o + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(I16, at, Float.floatToFloat16(d));
            for (int j = 0; j < half; j++) {
                int q0 = Math.min(15, (byte) (int) (x[o + j] * id + 8.5f));
                int q1 = Math.min(15, (byte) (int) (x[o + half + j] * id + 8.5f));
                dst.set(I8, at + 2 + j, (byte) (q0 | (q1 << 4)));
            }
        }
    }

    /** C's {@code roundf}: to nearest, halves away from zero (Java's {@code Math.round} rounds halves up). */
    static int roundHalfAway(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    /** The scale of block {@code b} of row {@code r}. */
    public float scale(int r, int b) {
        return Float.float16ToFloat(data.get(I16, at(r, b, 0)));
    }

    /** The quant of element {@code c} of row {@code r}: the int8 for Q8_0, the nibble 0..15 for Q4_0. */
    public int quant(int r, int c) {
        int b = c / BLOCK;
        int j = c % BLOCK;
        return switch (format) {
            case Q8_0 -> data.get(I8, at(r, b, 2 + j));
            case Q4_0 -> {
                int byt = (data.get(I8, at(r, b, 2 + j % 16)) ^ Q4_FLIP) & 0xFF;
                yield j < 16 ? byt & 0xF : byt >>> 4;
            }
            default -> throw new IllegalStateException(format + " is not Q8_0 or Q4_0");
        };
    }

    /** Block {@code b} of row {@code r} as llama.cpp stores it: the little-endian half scale, then the quants. */
    public byte[] block(int r, int b) {
        if (r < 0 || r >= rows || b < 0 || b >= blocks()) {
            throw new IndexOutOfBoundsException(
                    "matrix " + name + ": no block " + b + " in row " + r + " of " + rows + "×" + cols);
        }
        byte[] out = new byte[format.blockBytes()];
        for (int p = 0; p < out.length; p++) {
            out[p] = data.get(I8, at(r, b, p));
            if (p >= 2 && format == Format.Q4_0) {
                out[p] ^= Q4_FLIP;
            }
        }
        return out;
    }

    @Override
    public void tileToFloats(int tile, float[] out, int lane, int stride) {
        if (!QMatVec.VECTOR) {
            tileByRows(tile, out, lane, stride);
            return;
        }
        long base = tile * tileBytes();
        for (int b = 0; b < blocks(); b++) {
            long at = base + b * tileBlockBytes();
            FloatVector d = QMatVec.scales(data, at);
            int c0 = b * BLOCK;
            if (format == Format.Q8_0) {
                for (int j = 0; j < BLOCK; j++) {
                    QMatVec.q8(data, at, j).mul(d).intoArray(out, (c0 + j) * stride + lane);
                }
            } else {
                for (int p = 0; p < BLOCK / 2; p++) {
                    ByteVector q = QMatVec.nibbles(data, at, p);
                    FloatVector lo = QMatVec.lo(q);
                    lo.sub(8f).mul(d).intoArray(out, (c0 + p) * stride + lane);
                    QMatVec.signed(q).sub(lo).mul(d.mul(1f / 16)).intoArray(out, (c0 + 16 + p) * stride + lane);
                }
            }
        }
    }

    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        QMatVec.multiply(this, x, xOff, out, outOff, pool);
    }

    /** Without the vector kernels (vectors of other than 8 or 16 floats) every batch goes to the tiles. */
    @Override
    public int fewTokens() {
        return QMatVec.VECTOR ? QMatMul.MAX_TOKENS : 2;
    }

    @Override
    public void matVecs(
            float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
        QMatMul.multiply(this, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    /** Row {@code r} dequantized ({@code q·d}, or {@code (q-8)·d}) into {@code out[off .. off+cols)}. */
    @Override
    public void rowToFloats(int r, float[] out, int off) {
        for (int b = 0; b < blocks(); b++) {
            float d = scale(r, b);
            for (int j = 0; j < BLOCK; j++) {
                int q = quant(r, b * BLOCK + j);
                out[off + b * BLOCK + j] = (format == Format.Q8_0 ? q : q - 8) * d;
            }
        }
    }
}
