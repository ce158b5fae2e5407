package io.falconmamba.core.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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

    /**
     * {@code n} elements from byte offset {@code base} into {@code out[off..)}. Bulk copies and plain loops, not
     * the Vector API: loading runs this on every weight once, mostly before C2 has compiled anything, and the Vector
     * API is slow until it has, where a bulk copy is fast at once and C1 already compiles these loops well (C2 then
     * vectorizes them; {@code Float.float16ToFloat} becomes {@code vcvtph2ps}, exact, subnormals included).
     */
    public static void toFloats(Format type, MemorySegment seg, long base, float[] out, int off, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(seg, F32, base, out, off, n);
            case BF16, F16 -> {
                short[] halves = HALVES.get();
                for (int i = 0; i < n; ) {
                    int m = Math.min(n - i, halves.length);
                    MemorySegment.copy(seg, I16, base + 2L * i, halves, 0, m);
                    if (type == Format.F16) {
                        for (int k = 0; k < m; k++) {
                            out[off + i + k] = Float.float16ToFloat(halves[k]);
                        }
                    } else {
                        for (int k = 0; k < m; k++) {
                            out[off + i + k] = Float.intBitsToFloat(halves[k] << 16);
                        }
                    }
                    i += m;
                }
            }
            default -> throw new IllegalArgumentException(type + " is a block format, not an element type");
        }
    }

    /** Per thread: the 16-bit elements being widened. */
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[1024]);
}
