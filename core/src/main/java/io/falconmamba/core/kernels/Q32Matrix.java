package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's 32-weight blocks with one half scale, row-major as a GGUF file stores them: {@link Format#Q8_0},
 * {@link Format#Q4_0}, {@link Format#Q4_1}, {@link Format#Q5_0}, {@link Format#Q5_1} and {@link Format#IQ4_NL}.
 * In the 4- and 5-bit formats byte {@code j} of the quants holds weight {@code j} in its low nibble and weight
 * {@code j + 16} in its high one; the 5-bit formats add a little-endian u32 whose bit {@code j} is weight
 * {@code j}'s fifth bit. Each weight is computed in float32 as ggml's {@code dequantize_row_*} does.
 */
public final class Q32Matrix extends BlockMatrix {

    /** The 16 non-uniform levels of IQ4_NL (and IQ4_XS). */
    static final byte[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    Q32Matrix(String name, int rows, int cols, Format format, MemorySegment data) {
        super(name, rows, cols, format, data);
    }

    /** Bytes holding one float vector's lanes of int8 quants; none below eight lanes (no vector that small). */
    private static final VectorSpecies<Byte> QUANTS = Convert.F.length() >= 8
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(Convert.F.length() * Byte.SIZE))
            : null;

    /**
     * Q8_0 and Q4_0 rows a vector of quants at a time (widened with the conversion instruction, times the block's
     * scale: the same float32 products as {@link #decodeBlock}); the other formats block by block. The tiles of
     * prefill decode every weight once per chunk, so this bounds short prompts.
     */
    @Override
    void decodeRow(MemorySegment s, long at, float[] out, int off) {
        if (QUANTS == null) {
            super.decodeRow(s, at, out, off);
            return;
        }
        int lanes = Convert.F.length();
        switch (format()) {
            case Q8_0 -> {
                for (int c = 0; c < cols(); c += 32, at += 34) {
                    float d = f16(s, at);
                    for (int j = 0; j < 32; j += lanes) {
                        ((FloatVector) ByteVector.fromMemorySegment(QUANTS, s, at + 2 + j, ByteOrder.LITTLE_ENDIAN)
                                        .convertShape(VectorOperators.B2F, Convert.F, 0))
                                .mul(d)
                                .intoArray(out, off + c + j);
                    }
                }
            }
            case Q4_0 -> {
                for (int c = 0; c < cols(); c += 32, at += 18) {
                    float d = f16(s, at);
                    for (int j = 0; j < 16; j += lanes) {
                        ByteVector q = ByteVector.fromMemorySegment(QUANTS, s, at + 2 + j, ByteOrder.LITTLE_ENDIAN);
                        ((FloatVector) q.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, Convert.F, 0))
                                .mul(d)
                                .intoArray(out, off + c + j);
                        ((FloatVector) q.lanewise(VectorOperators.LSHR, 4)
                                        .sub((byte) 8)
                                        .convertShape(VectorOperators.B2F, Convert.F, 0))
                                .mul(d)
                                .intoArray(out, off + c + 16 + j);
                    }
                }
            }
            default -> super.decodeRow(s, at, out, off);
        }
    }

    /** Decode through {@link BlockMatVec} where it has a kernel for the format, else the generic rows. */
    @Override
    public void matVec(float[] x, int xOff, float[] out, int outOff, ThreadPool pool) {
        if (BlockMatVec.covers(format())) {
            BlockMatVec.multiply(this, x, xOff, out, outOff, pool);
        } else {
            super.matVec(x, xOff, out, outOff, pool);
        }
    }

    @Override
    void decodeBlock(MemorySegment s, long p, float[] y, int o) {
        float d = f16(s, p);
        switch (format()) {
            case Q8_0 -> {
                for (int j = 0; j < 32; j++) {
                    y[o + j] = i8(s, p + 2 + j) * d;
                }
            }
            case Q4_0 -> {
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 2 + j);
                    y[o + j] = ((q & 0xF) - 8) * d;
                    y[o + j + 16] = ((q >>> 4) - 8) * d;
                }
            }
            case Q4_1 -> {
                float m = f16(s, p + 2);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 4 + j);
                    y[o + j] = (q & 0xF) * d + m;
                    y[o + j + 16] = (q >>> 4) * d + m;
                }
            }
            case Q5_0 -> {
                int qh = s.get(I32, p + 2);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 6 + j);
                    y[o + j] = (((q & 0xF) | (((qh >>> j) & 1) << 4)) - 16) * d;
                    y[o + j + 16] = (((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
                }
            }
            case Q5_1 -> {
                float m = f16(s, p + 2);
                int qh = s.get(I32, p + 4);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 8 + j);
                    y[o + j] = ((q & 0xF) | (((qh >>> j) & 1) << 4)) * d + m;
                    y[o + j + 16] = ((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
                }
            }
            case IQ4_NL -> {
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, p + 2 + j);
                    y[o + j] = d * IQ4_LEVELS[q & 0xF];
                    y[o + j + 16] = d * IQ4_LEVELS[q >>> 4];
                }
            }
            default -> throw new IllegalStateException(format() + " is not a 32-weight block format");
        }
    }
}
