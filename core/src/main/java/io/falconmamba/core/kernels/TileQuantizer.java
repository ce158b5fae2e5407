package io.falconmamba.core.kernels;

import static io.falconmamba.core.kernels.Convert.F;
import static io.falconmamba.core.kernels.QuantizedMatrix.BLOCK;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantizes a {@link Matrix} into a {@link QuantizedMatrix} one tile at a time, in the tile's own layout. The
 * tile's rows are widened to floats, each block's 32 columns are gathered into vectors whose lane {@code i} holds
 * row {@code i}, and llama.cpp's reference arithmetic ({@link QuantizedMatrix#quantizeRow}) runs lane-wise: every
 * lane does, for its row, the float operations the scalar reference does, in the same order, so the bytes are the
 * reference's. A vector of quants is then one stored run of {@code TILE} bytes and the finished tile goes to the
 * destination in one copy. A block whose scaled weights could fall outside the range where the vector rounding is
 * exact (scales that underflow), or holding an infinity or a NaN (whose scale carries the NaN's payload, which
 * {@code Math.max} propagates and a vector max need not), goes through the scalar reference instead. One instance per
 * thread; not thread-safe.
 */
final class TileQuantizer {

    private static final int L = QuantizedMatrix.TILE;

    /** Floats between scratch rows beyond a row: one cache line, so a gather's rows fall in different L1 sets. */
    private static final int ROW_PAD = 16;

    /**
     * Below this magnitude a float's truncation to int and its fraction are exact, so the lane-wise rounding
     * equals the reference's; blocks that could reach it take the scalar path.
     */
    private static final float EXACT = 0x1p23f;

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /** One byte per lane: a quarter of the float vector's bits (none below 256-bit vectors: bytes go one by one). */
    private static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4))
            : null;

    private final Matrix src;
    private final QuantizedMatrix dst;
    private final Format type;
    private final int stride;
    /** The tile's rows as floats, row {@code i} at {@code i · stride}. */
    private final float[] rows;
    /** One block's 32 columns, column {@code j} at {@code j · L}, lane {@code i} = row {@code i}. */
    private final float[] block = new float[BLOCK * L];
    /** The tile in its stored layout. */
    private final byte[] out;

    private final int[] lanes = new int[L];
    private final float[] scales = new float[L];
    private final int[] quants = new int[L];
    /** One row's block from the scalar reference. */
    private final MemorySegment reference;

    TileQuantizer(Matrix src, QuantizedMatrix dst) {
        this.src = src;
        this.dst = dst;
        this.type = dst.format();
        this.stride = src.cols() + ROW_PAD;
        this.rows = new float[L * stride];
        this.out = new byte[Math.toIntExact(dst.tileBytes())];
        this.reference = MemorySegment.ofArray(new byte[type.blockBytes()]);
        for (int i = 0; i < L; i++) {
            lanes[i] = i * stride;
        }
    }

    /** Quantizes tile {@code t} into its place in the destination. */
    void quantize(int t) {
        int valid = Math.min(L, src.rows() - t * L);
        for (int i = 0; i < L; i++) {
            if (i < valid) {
                src.rowToFloats(t * L + i, rows, i * stride);
            } else {
                Arrays.fill(rows, i * stride, i * stride + src.cols(), 0f);
            }
        }
        for (int b = 0; b < dst.blocks(); b++) {
            boolean exact = type == Format.Q8_0 ? q8(b) : q4(b);
            if (!exact) {
                scalar(b);
            }
        }
        if (valid < L) {
            zeroPadding(valid);
        }
        MemorySegment.copy(out, 0, dst.data(), ValueLayout.JAVA_BYTE, t * dst.tileBytes(), out.length);
    }

    /** Offset of block {@code b} in the tile. */
    private int base(int b) {
        return (int) (b * dst.tileBlockBytes());
    }

    /** Gathers block {@code b}'s column {@code j} of every row, keeps it in {@link #block} and returns it. */
    private FloatVector column(int b, int j) {
        FloatVector x = FloatVector.fromArray(F, rows, b * BLOCK + j, lanes, 0);
        x.intoArray(block, j * L);
        return x;
    }

    /** {@code quantizeRowQ8} lane-wise: {@code d = amax / 127}, {@code q = roundf(x · (1/d))}; false: not exact. */
    private boolean q8(int b) {
        FloatVector amax = FloatVector.zero(F);
        VectorMask<Float> finite = F.maskAll(true);
        for (int j = 0; j < BLOCK; j++) {
            FloatVector x = column(b, j);
            amax = amax.max(x.abs());
            finite = finite.and(x.test(VectorOperators.IS_FINITE));
        }
        FloatVector d = amax.div(127f);
        FloatVector id = inverse(d);
        if (!finite.allTrue()
                || !amax.mul(id).compare(VectorOperators.LT, EXACT).allTrue()) {
            return false;
        }
        int base = base(b);
        putScales(d, base);
        for (int j = 0; j < BLOCK; j++) {
            FloatVector v = FloatVector.fromArray(F, block, j * L).mul(id);
            // roundf: truncate, then one step away from zero where the dropped fraction is at least a half.
            IntVector q = (IntVector) v.convertShape(VectorOperators.F2I, I, 0);
            FloatVector frac = v.sub((FloatVector) q.convertShape(VectorOperators.I2F, F, 0));
            q = q.add(1, frac.compare(VectorOperators.GE, 0.5f).cast(I))
                    .sub(1, frac.compare(VectorOperators.LE, -0.5f).cast(I));
            putBytes(q, base + 2 * L + j * L);
        }
        return true;
    }

    /**
     * {@code quantizeRowQ4} lane-wise: {@code m} the first weight of largest magnitude, {@code d = m / -8},
     * {@code q = min(15, (int8) (x · (1/d) + 8.5))}, byte {@code j} = {@code q[j] | q[j+16] << 4} (stored with
     * {@link QuantizedMatrix#Q4_FLIP}); false: not exact.
     */
    private boolean q4(int b) {
        FloatVector amax = FloatVector.zero(F);
        FloatVector max = FloatVector.zero(F);
        VectorMask<Float> finite = F.maskAll(true);
        for (int j = 0; j < BLOCK; j++) {
            FloatVector x = column(b, j);
            FloatVector a = x.abs();
            VectorMask<Float> larger = amax.compare(VectorOperators.LT, a);
            amax = amax.blend(a, larger);
            max = max.blend(x, larger);
            finite = finite.and(x.test(VectorOperators.IS_FINITE));
        }
        FloatVector d = max.div(-8f);
        FloatVector id = inverse(d);
        if (!finite.allTrue()
                || !amax.mul(id.abs()).compare(VectorOperators.LT, EXACT).allTrue()) {
            return false;
        }
        int base = base(b);
        putScales(d, base);
        int half = BLOCK / 2;
        for (int j = 0; j < half; j++) {
            IntVector lo = q4(FloatVector.fromArray(F, block, j * L), id);
            IntVector hi = q4(FloatVector.fromArray(F, block, (j + half) * L), id);
            putBytes(
                    lo.or(hi.lanewise(VectorOperators.LSHL, 4)).lanewise(VectorOperators.XOR, 0x80),
                    base + 2 * L + j * L);
        }
        return true;
    }

    /** {@code min(15, (int8) (int) (x · id + 8.5f))}, the int8 as a sign extension of the low byte. */
    private static IntVector q4(FloatVector x, FloatVector id) {
        IntVector q = (IntVector) x.mul(id).add(8.5f).convertShape(VectorOperators.F2I, I, 0);
        return q.lanewise(VectorOperators.LSHL, 24)
                .lanewise(VectorOperators.ASHR, 24)
                .min(15);
    }

    /** {@code d != 0 ? 1 / d : 0}. */
    private static FloatVector inverse(FloatVector d) {
        return FloatVector.broadcast(F, 1f).div(d).blend(0f, d.compare(VectorOperators.EQ, 0f));
    }

    /** The lanes' scales as little-endian halves at {@code out[base + 2i]}. */
    private void putScales(FloatVector d, int base) {
        d.intoArray(scales, 0);
        for (int i = 0; i < L; i++) {
            short h = Float.floatToFloat16(scales[i]);
            out[base + 2 * i] = (byte) h;
            out[base + 2 * i + 1] = (byte) (h >> 8);
        }
    }

    /** The low byte of each lane, lane {@code i} at {@code out[at + i]}. */
    private void putBytes(IntVector q, int at) {
        if (B != null) {
            ((ByteVector) q.convertShape(VectorOperators.I2B, B, 0)).intoArray(out, at);
        } else {
            q.intoArray(quants, 0);
            for (int i = 0; i < L; i++) {
                out[at + i] = (byte) quants[i];
            }
        }
    }

    /** Block {@code b} row by row through the scalar reference, its bytes moved into the tile's layout. */
    private void scalar(int b) {
        int base = base(b);
        byte flip = type == Format.Q4_0 ? QuantizedMatrix.Q4_FLIP : 0;
        for (int i = 0; i < L; i++) {
            QuantizedMatrix.quantizeRow(type, rows, i * stride + b * BLOCK, BLOCK, reference, 0);
            out[base + 2 * i] = reference.get(ValueLayout.JAVA_BYTE, 0);
            out[base + 2 * i + 1] = reference.get(ValueLayout.JAVA_BYTE, 1);
            for (int p = 2; p < type.blockBytes(); p++) {
                out[base + 2 * L + (p - 2) * L + i] = (byte) (reference.get(ValueLayout.JAVA_BYTE, p) ^ flip);
            }
        }
    }

    /** Rows past the matrix's last are zero bytes, scale and quants. */
    private void zeroPadding(int valid) {
        for (int b = 0; b < dst.blocks(); b++) {
            int base = base(b);
            Arrays.fill(out, base + 2 * valid, base + 2 * L, (byte) 0);
            for (int p = 2; p < type.blockBytes(); p++) {
                int at = base + 2 * L + (p - 2) * L;
                Arrays.fill(out, at + valid, at + L, (byte) 0);
            }
        }
    }
}
