package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.Convert.I16;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * An F16 or BF16 weight matrix repacked at load into tiles of {@link #TILE} rows (one float vector's lanes),
 * each tile stored by column pairs: one vector load gives the tile's rows at two adjacent columns (lane {@code i}
 * holds row {@code r0+i}'s element {@code 2p} in its low half and {@code 2p+1} in its high half). {@link PackedMatMul} then multiplies with broadcasts of x and no horizontal sums, one contiguous
 * stream per tile, whatever the number of tokens. Rows past the end of the last tile, and the columns that pad
 * the width to a multiple of four (an even number of pairs, see {@link #steps}), are zero.
 * Long prompts go through {@link MatMul}'s transposed tiles, which this layout fills with plain vector widening.
 */
public record PackedMatrix(String name, int rows, int cols, Format format, MemorySegment data) implements RowTiles {

    public static final int TILE = F.length();

    public PackedMatrix {
        if (format != Format.F16 && format != Format.BF16) {
            throw new IllegalArgumentException(
                    "matrix " + name + ": only F16 and BF16 matrices are packed, not " + format);
        }
        if (rows < 0 || cols < 0 || data.byteSize() != bytesFor(rows, cols)) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.byteSize() + " packed bytes do not hold "
                    + rows + "×" + cols + " " + format);
        }
    }

    @Override
    public int tiles() {
        return (rows() + TILE - 1) / TILE;
    }

    /**
     * Column pairs per tile: the pairs that hold columns, rounded up to an even number (a zero pair pads it), so
     * the eight-token kernel can read each tile at two places half a tile apart.
     */
    int steps() {
        return steps(cols);
    }

    private static int steps(int cols) {
        return (cols + 3) / 4 * 2;
    }

    /** Bytes of one tile: a vector per step. */
    long tileBytes() {
        return (long) steps() * F.vectorByteSize();
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    private static long bytesFor(int rows, int cols) {
        return (long) ((rows + TILE - 1) / TILE) * steps(cols) * F.vectorByteSize();
    }

    /** Whether {@code m} can be packed (F16 or BF16). */
    public static boolean packable(Matrix m) {
        return m.format() == Format.F16 || m.format() == Format.BF16;
    }

    /**
     * Packs {@code m} into a segment of {@code arena}, tiles split across {@code pool}. Each thread copies a
     * tile's rows whole into a scratch array (one sequential read of the source), gathers each column pair of the
     * tile's rows into one vector and writes the finished tile with one bulk copy, so the destination's pages are
     * first touched by the thread that fills them.
     */
    public static PackedMatrix pack(Matrix m, Arena arena, ThreadPool pool) {
        if (!packable(m)) {
            throw new IllegalArgumentException(
                    "matrix " + m.name() + ": only F16 and BF16 matrices are packed, not " + m.format());
        }
        long bytes = bytesFor(m.rows(), m.cols());
        MemorySegment data = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        PackedMatrix p = new PackedMatrix(m.name(), m.rows(), m.cols(), m.format(), data);
        pool.parallelFor(p.tiles(), (from, to) -> new Packer(m, p).pack(from, to));
        return p;
    }

    /** One thread's scratch for {@link #pack}: the source rows of a tile as ints, and the tile being built. */
    private static final class Packer {

        /** Ints between scratch rows beyond a row: one cache line, so a gather's rows fall in different L1 sets. */
        private static final int ROW_PAD = 16;

        private final Matrix src;
        private final PackedMatrix dst;
        private final int stride;
        private final int[] rows;
        private final int[] tile;
        private final int[] lanes = new int[TILE];

        Packer(Matrix src, PackedMatrix dst) {
            this.src = src;
            this.dst = dst;
            this.stride = dst.steps() + ROW_PAD;
            this.rows = new int[TILE * stride];
            this.tile = new int[dst.steps() * TILE];
            for (int i = 0; i < TILE; i++) {
                lanes[i] = i * stride;
            }
        }

        void pack(int from, int to) {
            int cols = src.cols();
            int pairs = cols / 2;
            int steps = dst.steps();
            long rowBytes = src.rowBytes();
            for (int t = from; t < to; t++) {
                for (int i = 0; i < TILE; i++) {
                    int r = t * TILE + i;
                    int at = i * stride;
                    if (r >= src.rows()) {
                        Arrays.fill(rows, at, at + steps, 0); // padding rows are zero
                        continue;
                    }
                    // A column pair is one little-endian int in both layouts: move ints, not halves.
                    MemorySegment.copy(src.data(), Convert.I32, r * rowBytes, rows, at, pairs);
                    if ((cols & 1) != 0) {
                        rows[at + pairs] = Short.toUnsignedInt(src.data().get(I16, r * rowBytes + pairs * 4L));
                    }
                }
                for (int p = 0; p < steps; p++) {
                    IntVector.fromArray(I, rows, p, lanes, 0).intoArray(tile, p * TILE);
                }
                MemorySegment.copy(tile, 0, dst.data(), Convert.I32, t * dst.tileBytes(), tile.length);
            }
        }
    }

    /**
     * Rows {@code [tile·L, tile·L + L)} ({@code L} = {@link #TILE}) as floats into {@code out}, transposed: column
     * {@code c} at {@code out[c·stride + lane ..]}, for {@link MatMul}'s tiles. Exact for finite values (F16:
     * the fields widened as the kernels do, rebiased to the value).
     */
    @Override
    public void tileToFloats(int tile, float[] out, int lane, int stride) {
        int shift = shift(format);
        int evenMask = evenMask(format);
        int oddMask = oddMask(format);
        float rebias = rebias(format);
        long base = tile * tileBytes();
        int pairs = (cols + 1) / 2; // the pairs that hold columns, not the padding pair
        for (int p = 0; p < pairs; p++) {
            IntVector v = IntVector.fromMemorySegment(I, data, base + (long) p * F.vectorByteSize(), Convert.LE);
            even(v, shift, evenMask, rebias).intoArray(out, 2 * p * stride + lane);
            if (2 * p + 1 < cols) {
                odd(v, shift, oddMask, rebias).intoArray(out, (2 * p + 1) * stride + lane);
            }
        }
    }

    /**
     * The lower-addressed (even) halves of pairs, widened to their float values for the tiles: the fields times
     * {@link #rebias}. A zero or subnormal F16 half makes that multiply's operand a denormal float (a microcode
     * assist on Intel cores, see {@link F16Fields}), which costs little here: each weight is widened once per
     * tile and then multiplied by every token, and a test and patch per vector cost more than the rare assist.
     */
    static FloatVector even(IntVector v, int shift, int evenMask, float rebias) {
        return v.lanewise(VectorOperators.LSHL, 16)
                .lanewise(VectorOperators.ASHR, shift)
                .and(evenMask)
                .reinterpretAsFloats()
                .mul(rebias);
    }

    /** The higher-addressed (odd) halves of pairs, widened as {@link #even} widens. */
    static FloatVector odd(IntVector v, int shift, int oddMask, float rebias) {
        return v.lanewise(VectorOperators.ASHR, shift)
                .and(oddMask)
                .reinterpretAsFloats()
                .mul(rebias);
    }

    /*
     * The widening of a lane holding two halves: even = ((v << 16) >> shift) & evenMask, odd = (v >> shift) &
     * oddMask (arithmetic shifts). F16: the half's fields moved to float position (F16Fields.FIELDS), the half
     * times 2^-112; BF16: the half is the top of a float, shift and mask only.
     */

    static int shift(Format format) {
        return format == Format.F16 ? 3 : 0;
    }

    static int evenMask(Format format) {
        return format == Format.F16 ? F16Fields.FIELDS : -1;
    }

    static int oddMask(Format format) {
        return format == Format.F16 ? F16Fields.FIELDS : 0xFFFF0000;
    }

    /** What takes the tiles' widened fields to the value: 2^112 for F16, 1 for BF16. */
    static float rebias(Format format) {
        return format == Format.F16 ? 0x1p112f : 1f;
    }

    /**
     * Added to the widened fields by the decode kernels, which scale x by 2^{@link F16Fields#SCALE} for F16:
     * {@link F16Fields#SCALED} for F16, 0 for BF16.
     */
    static int scaledRebias(Format format) {
        return format == Format.F16 ? F16Fields.SCALED : 0;
    }

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /** Element {@code (r, c)} read back from the packed layout, as float. */
    public float get(int r, int c) {
        long base = (long) (r / TILE) * tileBytes();
        int i = r % TILE;
        short bits = data.get(I16, base + ((long) (c / 2) * TILE + i) * 4 + (c & 1) * 2);
        return format == Format.F16 ? Float.float16ToFloat(bits) : Convert.bf16ToFloat(bits);
    }

    @Override
    public void rowToFloats(int r, float[] out, int off) {
        for (int c = 0; c < cols; c++) {
            out[off + c] = get(r, c);
        }
    }

    /** One token goes through {@link PackedMatMul} too: its four-tile pass streams the tiles as decode needs. */
    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        PackedMatMul.multiply(this, x, xOff, 0, 1, out, outOff, 0, pool);
    }

    @Override
    public int fewTokens() {
        return PackedMatMul.MAX_TOKENS;
    }

    @Override
    public void matVecs(
            float[] x, int xOff, int xStride, int tokens, float[] out, int outOff, int outStride, ThreadPool pool) {
        PackedMatMul.multiply(this, x, xOff, xStride, tokens, out, outOff, outStride, pool);
    }
}
