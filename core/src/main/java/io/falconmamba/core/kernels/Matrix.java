package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.IntVector;

/**
 * A row-major weight matrix {@code rows × cols} of {@link Format#F32}, {@link Format#F16} or {@link Format#BF16}
 * elements, read in place (mapped file or off-heap). Row {@code r} starts at byte {@code r · cols · bytes}.
 * Decode streams rows with {@link MatVec}, a few tokens with {@link BatchMatVec}, many through {@link MatMul}'s
 * tiles, which {@link #transposedRows} fills by gathers from rows copied whole.
 */
public record Matrix(String name, int rows, int cols, Format format, MemorySegment data) implements Weight {

    private static final int L = F.length();

    public Matrix {
        if (format.blocked()) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": " + format + " is a block format, not an element type");
        }
        long need = (long) rows * cols * format.blockBytes();
        if (rows < 0 || cols < 0 || data.byteSize() != need) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " bytes do not hold " + rows
                    + "×" + cols + " " + format);
        }
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return (long) cols * format.blockBytes();
    }

    /** Copies row {@code r} into {@code out[off..off+cols)} as floats (embedding lookup, tile decoding). */
    @Override
    public void rowToFloats(int r, float[] out, int off) {
        Convert.toFloats(format, data, r * rowBytes(), out, off, cols);
    }

    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        MatVec.multiply(this, x, xOff, out, outOff, pool);
    }

    @Override
    public int fewTokens() {
        return BatchMatVec.SMALL_BATCH;
    }

    @Override
    public void matVecs(
            float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
        BatchMatVec.multiply(this, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }

    private static final ThreadLocal<int[]> RAW = ThreadLocal.withInitial(() -> new int[0]);

    /**
     * The rows widened and transposed into the tile. Each column of the tile is two vector gathers, one per
     * vector of rows, from rows copied whole (one sequential read of W each). Storing each row's floats one by
     * one across the tile (128-256 KiB, in L2) costs as much as the products at 64-token chunks; a blocked
     * scalar transpose and an 8×8 register transpose are no faster than the gathers.
     */
    @Override
    public void transposedRows(int r0, int count, float[] tile, int width) {
        if (width == 2 * L && format != Format.F32 && cols >= 2) {
            transposed16(r0, count, tile);
        } else {
            DecodedRows.transposed(this, r0, count, tile, width); // F32: rows copied whole, then gathered
        }
    }

    /**
     * F16 and BF16 rows, transposed before they are widened: each gather of ints brings a column pair of eight
     * rows, half the gathers of gathering floats, and the pair is split and widened in registers as the packed
     * layout widens it ({@link PackedMatrix#even}: exact for finite halves; as in decode, F16 halves with the
     * all-ones exponent come out finite). An odd last column is widened one by one.
     */
    private void transposed16(int r0, int count, float[] tileT) {
        int n = cols;
        int w = 2 * L;
        int pairs = n / 2;
        int stride = pairs + DecodedRows.ROW_PAD;
        int[] raw = RAW.get();
        if (raw.length < w * stride) {
            raw = new int[w * stride];
            RAW.set(raw);
        }
        long rowBytes = rowBytes();
        for (int k = 0; k < w; k++) {
            if (k < count) {
                MemorySegment.copy(data, Convert.I32, (r0 + k) * rowBytes, raw, k * stride, pairs);
            } else {
                Arrays.fill(raw, k * stride, k * stride + pairs, 0);
            }
        }
        int[] lanes = DecodedRows.gatherOffsets(stride);
        int hiRows = L * stride;
        // The packed layout's widening of a pair (see PackedMatrix): the same lanes, gathered instead of stored.
        int shift = PackedMatrix.shift(format);
        int evenMask = PackedMatrix.evenMask(format);
        int oddMask = PackedMatrix.oddMask(format);
        float rebias = PackedMatrix.rebias(format);
        for (int p = 0; p < pairs; p++) {
            IntVector a = IntVector.fromArray(Convert.I, raw, p, lanes, 0);
            IntVector b = IntVector.fromArray(Convert.I, raw, p + hiRows, lanes, 0);
            int o = 2 * p * w;
            PackedMatrix.even(a, shift, evenMask, rebias).intoArray(tileT, o);
            PackedMatrix.even(b, shift, evenMask, rebias).intoArray(tileT, o + L);
            PackedMatrix.odd(a, shift, oddMask, rebias).intoArray(tileT, o + w);
            PackedMatrix.odd(b, shift, oddMask, rebias).intoArray(tileT, o + w + L);
        }
        if ((n & 1) != 0) {
            int c = n - 1;
            for (int k = 0; k < w; k++) {
                tileT[c * w + k] = k < count ? Convert.load(format, data, (r0 + k) * rowBytes, c) : 0f;
            }
        }
    }
}
