package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Widening of stored weight elements (F32, BF16, F16) to float32, scalar and vector. */
public final class Convert {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts at half the float vector's bit size, so one load widens to one float vector. */
    static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    /** Two stored 16-bit weights as one int, the lower-addressed in the low half. */
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    private Convert() {}

    /** Bits per float vector of the kernels ({@link #F}). */
    public static int vectorBits() {
        return F.vectorBitSize();
    }

    /** bfloat16 bits to float: the bf16 is the high half of a float32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Element {@code i} of a weight array at {@code base}, as float. */
    public static float load(Format type, MemorySegment seg, long base, long i) {
        return switch (type) {
            case F32 -> seg.get(F32, base + i * 4);
            case BF16 -> bf16ToFloat(seg.get(I16, base + i * 2));
            case F16 -> Float.float16ToFloat(seg.get(I16, base + i * 2));
            default -> throw new IllegalArgumentException(type + " is a block format, not an element type");
        };
    }

    /** {@code n} elements from byte offset {@code base} into {@code out[off..)}. */
    public static void toFloats(Format type, MemorySegment seg, long base, float[] out, int off, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        switch (type) {
            case F32 -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromMemorySegment(F, seg, base + (long) i * 4, LE)
                            .intoArray(out, off + i);
                }
            }
            case BF16 -> {
                for (; i < bound; i += F.length()) {
                    ShortVector s = ShortVector.fromMemorySegment(S, seg, base + (long) i * 2, LE);
                    IntVector w = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
                    w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(out, off + i);
                }
            }
            case F16 -> {
                for (; i < bound; i += F.length()) {
                    ShortVector s = ShortVector.fromMemorySegment(S, seg, base + (long) i * 2, LE);
                    IntVector h = ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).and(0xFFFF);
                    // The half's fields in float position, rebiased as F16Fields describes (no denormal operand);
                    // inf and NaN keep their all-ones exponent; a vector holding a zero or subnormal half is
                    // widened in scalar.
                    IntVector fields = h.and(0x7FFF)
                            .lanewise(VectorOperators.LSHL, 13)
                            .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
                    fields.add(F16Fields.EXACT)
                            .blend(fields.or(0x7F800000), h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00))
                            .reinterpretAsFloats()
                            .intoArray(out, off + i);
                    if (h.and(0x7C00).compare(VectorOperators.EQ, 0).anyTrue()) {
                        for (int k = i; k < i + F.length(); k++) {
                            out[off + k] = load(type, seg, base, k);
                        }
                    }
                }
            }
            default -> throw new IllegalArgumentException(type + " is a block format, not an element type");
        }
        for (; i < n; i++) {
            out[off + i] = load(type, seg, base, i);
        }
    }
}
