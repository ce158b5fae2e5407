package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A row-major {@code rows × cols} matrix in one of llama.cpp's block formats, read in place (for GGUF, the slice of
 * the mapped file): row {@code r} is {@code cols / blockSize} ggml blocks starting at byte
 * {@code r · format.rowBytes(cols)}, each exactly as ggml stores it. A subclass per format family decodes its
 * blocks ({@link #decodeBlock}) with ggml's float32 arithmetic, so decoded rows are bit-identical to
 * {@code dequantize_row_*}; that alone runs every product through the {@link Weight} defaults, and a subclass
 * overrides {@link #matVec} where it has a decode kernel.
 */
public abstract sealed class BlockMatrix implements Weight permits Q32Matrix, KQuantMatrix {

    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort I16 = Convert.I16;
    static final ValueLayout.OfInt I32 = Convert.I32;
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(Convert.LE);

    private final String name;
    private final int rows;
    private final int cols;
    private final Format format;
    private final MemorySegment data;
    private final long rowBytes;

    BlockMatrix(String name, int rows, int cols, Format format, MemorySegment data) {
        if (!format.blocked()) {
            throw new IllegalArgumentException("matrix " + name + ": " + format + " is an element type, not blocks");
        }
        if (rows < 0 || cols < 0 || !format.fits(cols)) {
            throw new IllegalArgumentException("matrix " + name + ": rows of " + cols + " weights do not split into "
                    + format + " blocks of " + format.blockSize());
        }
        this.rowBytes = format.rowBytes(cols);
        if (data.byteSize() != rows * rowBytes) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows
                    + "×" + cols + " " + format);
        }
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.format = format;
        this.data = data;
    }

    /**
     * The matrix of ggml blocks in {@code data}, in the class of its format's family: the one place that picks it.
     *
     * @throws IllegalArgumentException naming the matrix when the format is not a block format or the bytes do not
     *     hold {@code rows × cols} of it
     */
    public static BlockMatrix of(String name, int rows, int cols, Format format, MemorySegment data) {
        return switch (format) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL -> new Q32Matrix(name, rows, cols, format, data);
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> new KQuantMatrix(name, rows, cols, format, data);
            case F32, F16, BF16 ->
                throw new IllegalArgumentException(
                        "matrix " + name + ": " + format + " is an element type, not blocks");
        };
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final Format format() {
        return format;
    }

    /** The blocks, in place: the memory this matrix was built over, nothing copied. */
    public final MemorySegment data() {
        return data;
    }

    /** Bytes of one row's blocks. */
    public final long rowBytes() {
        return rowBytes;
    }

    @Override
    public final long byteSize() {
        return data.byteSize();
    }

    @Override
    public final void rowToFloats(int r, float[] out, int off) {
        if (r < 0 || r >= rows) {
            throw new IndexOutOfBoundsException("matrix " + name + ": no row " + r + " of " + rows);
        }
        decodeRow(data, r * rowBytes, out, off);
    }

    /**
     * Block {@code b} of row {@code r} (columns {@code [b·blockSize, (b+1)·blockSize)}) as floats into
     * {@code out[off ..]}: the values {@link #rowToFloats} gives there, without decoding the rest of the row.
     */
    public final void blockToFloats(int r, int b, float[] out, int off) {
        if (r < 0 || r >= rows || b < 0 || b >= cols / format.blockSize()) {
            throw new IndexOutOfBoundsException(
                    "matrix " + name + ": no block " + b + " in row " + r + " of " + rows + "×" + cols);
        }
        decodeBlock(data, r * rowBytes + (long) b * format.blockBytes(), out, off);
    }

    /**
     * The row whose blocks start at byte {@code at} of {@code s} as {@code cols} floats into {@code out[off ..]}:
     * block by block through {@link #decodeBlock}; a format with a vector decoder overrides it with the same
     * results.
     */
    void decodeRow(MemorySegment s, long at, float[] out, int off) {
        int bs = format.blockSize();
        int bb = format.blockBytes();
        for (int c = 0; c < cols; c += bs, at += bb) {
            decodeBlock(s, at, out, off + c);
        }
    }

    /** The block at byte {@code at} of {@code s} as {@code blockSize} floats into {@code y[o ..]}. */
    abstract void decodeBlock(MemorySegment s, long at, float[] y, int o);

    static float f16(MemorySegment s, long p) {
        return Float.float16ToFloat(s.get(I16, p));
    }

    static int u8(MemorySegment s, long p) {
        return s.get(I8, p) & 0xFF;
    }

    static int i8(MemorySegment s, long p) {
        return s.get(I8, p);
    }

    @Override
    public String toString() {
        return name + " " + format + " " + rows + "×" + cols;
    }
}
