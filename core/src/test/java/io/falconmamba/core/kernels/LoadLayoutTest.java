package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bytes that packing ({@link PackedMatrix#pack}) and quantizing at load ({@link QuantizedMatrix#quantize})
 * write, every one of them (padding included), against the layouts their class comments define filled element by
 * element from the source, quantized row by row with llama.cpp's scalar reference ({@link
 * QuantizedMatrix#quantizeRow}); and the same bytes whether one thread or several do the work. The sources mix
 * weights of trained-model size with the cases where rounding could go astray: exact halves, all-zero blocks,
 * infinities, NaNs, subnormals, raw random bits.
 */
class LoadLayoutTest {

    private static final ThreadPool ONE = new ThreadPool(1);
    private static final ThreadPool POOL = new ThreadPool(3);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @AfterAll
    static void close() {
        ONE.close();
        POOL.close();
    }

    static Stream<Arguments> quantizeShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Format q : List.of(Format.Q8_0, Format.Q4_0)) {
            for (Format src : KernelsTest.ELEMENT_FORMATS) {
                for (int rows : new int[] {1, 16, 17, 45}) {
                    for (int cols : new int[] {32, 96, 2048}) {
                        out.add(Arguments.of(q, src, rows, cols));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} from {1} {2}×{3}")
    @MethodSource("quantizeShapes")
    void quantizedBytesAreTheRowByRowReference(Format q, Format srcType, int rows, int cols) {
        Matrix src = source(srcType, rows, cols, new Random(rows * 7919L + cols * 31L + srcType.ordinal()));
        byte[] many =
                QuantizedMatrix.quantize(src, q, Arena.ofAuto(), POOL).data().toArray(ValueLayout.JAVA_BYTE);
        byte[] one =
                QuantizedMatrix.quantize(src, q, Arena.ofAuto(), ONE).data().toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(referenceQuantized(src, q), many, q + " from " + srcType);
        assertArrayEquals(one, many, "one thread and three");
    }

    static Stream<Arguments> packShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Format src : new Format[] {Format.F16, Format.BF16}) {
            for (int rows : new int[] {1, 16, 17, 45}) {
                for (int cols : new int[] {1, 2, 7, 33, 2048, 2049}) {
                    out.add(Arguments.of(src, rows, cols));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}×{2}")
    @MethodSource("packShapes")
    void packedBytesAreTheSourceRearranged(Format srcType, int rows, int cols) {
        Matrix src = source(srcType, rows, cols, new Random(rows * 104729L + cols));
        byte[] many = PackedMatrix.pack(src, Arena.ofAuto(), POOL).data().toArray(ValueLayout.JAVA_BYTE);
        byte[] one = PackedMatrix.pack(src, Arena.ofAuto(), ONE).data().toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(referencePacked(src), many, srcType.toString());
        assertArrayEquals(one, many, "one thread and three");
    }

    /**
     * {@link PackedMatrix}'s layout element by element: tiles of {@code TILE} rows, in a tile the column pair
     * {@code p} of row {@code i} at int {@code p·TILE + i}; the odd column's partner, the pair that pads the pairs
     * to an even number, and padding rows zero.
     */
    static byte[] referencePacked(Matrix m) {
        int t = PackedMatrix.TILE;
        int steps = (m.cols() + 1) / 2;
        steps += steps & 1;
        long tileBytes = (long) steps * t * 4;
        MemorySegment out = MemorySegment.ofArray(new byte[(int) (((m.rows() + t - 1) / t) * tileBytes)]);
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) {
                short bits = m.data().get(I16, ((long) r * m.cols() + c) * 2);
                out.set(I16, (r / t) * tileBytes + ((long) (c / 2) * t + r % t) * 4 + (c & 1) * 2, bits);
            }
        }
        return out.toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * {@link QuantizedMatrix}'s layout element by element: per tile and block, the {@code TILE} rows' half scales,
     * then byte {@code p} of every row's llama.cpp block ({@code TILE} bytes per {@code p}, Q4_0 bytes XOR 0x80);
     * padding rows zero.
     */
    static byte[] referenceQuantized(Matrix m, Format q) {
        int t = QuantizedMatrix.TILE;
        int bb = q.blockBytes();
        int blocks = m.cols() / 32;
        long tileBlockBytes = (long) t * bb;
        long tileBytes = blocks * tileBlockBytes;
        byte[] out = new byte[(int) (((m.rows() + t - 1) / t) * tileBytes)];
        float[] row = new float[m.cols()];
        MemorySegment llama = MemorySegment.ofArray(new byte[blocks * bb]);
        for (int r = 0; r < m.rows(); r++) {
            m.rowToFloats(r, row, 0);
            QuantizedMatrix.quantizeRow(q, row, 0, m.cols(), llama, 0);
            int i = r % t;
            for (int b = 0; b < blocks; b++) {
                long base = (r / t) * tileBytes + b * tileBlockBytes;
                for (int p = 0; p < bb; p++) {
                    byte v = llama.get(ValueLayout.JAVA_BYTE, (long) b * bb + p);
                    long at = p < 2 ? base + 2L * i + p : base + 2L * t + (long) (p - 2) * t + i;
                    out[(int) at] = p >= 2 && q == Format.Q4_0 ? (byte) (v ^ 0x80) : v;
                }
            }
        }
        return out;
    }

    /**
     * A source matrix in {@code type}: weights of a trained model's size, and by row number an all-zero block,
     * exact halves after scaling (Q8_0: amax 127, so 1/d is 1; Q4_0: first largest -8), infinities and NaNs,
     * subnormals, a row of raw random bits.
     */
    static Matrix source(Format type, int rows, int cols, Random rnd) {
        float[][] v = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                v[r][c] = (float) (rnd.nextGaussian() * 0.02);
            }
            float[] x = v[r];
            if (cols < 64) {
                continue; // narrow packing shapes: plain weights
            }
            switch (r % 8) {
                case 1 -> java.util.Arrays.fill(x, 0, 32, 0f);
                case 2 -> {
                    x[0] = 127f;
                    for (int j = 1; j < 32; j++) {
                        x[j] = (rnd.nextInt(252) - 126) + 0.5f * (j & 1); // k + 0.5: a tie for roundf
                    }
                }
                case 3 -> {
                    x[0] = -8f;
                    for (int j = 1; j < 32; j++) {
                        x[j] = (rnd.nextInt(16) - 8) + 0.5f; // x + 8.5 an integer
                    }
                    x[5] = 8f; // as large as the first: the first stays m
                }
                case 4 -> {
                    x[3] = Float.POSITIVE_INFINITY;
                    x[cols - 1] = Float.NaN;
                    x[40] = Float.NEGATIVE_INFINITY;
                }
                case 5 -> {
                    for (int j = 0; j < cols; j++) {
                        x[j] = (float) (rnd.nextGaussian() * 1e-39); // subnormal in F32 and BF16; scale underflows
                    }
                }
                case 6 -> {
                    for (int j = 0; j < cols; j++) {
                        x[j] = type == Format.F32
                                ? Float.intBitsToFloat(rnd.nextInt())
                                : type == Format.F16
                                        ? Float.float16ToFloat((short) rnd.nextInt())
                                        : Convert.bf16ToFloat((short) rnd.nextInt());
                    }
                }
                case 7 -> x[cols / 2] = -65504f; // the largest half: a big scale
                default -> {}
            }
        }
        int size = type.blockBytes();
        MemorySegment seg = Arena.ofAuto()
                .allocate((long) rows * cols * size + 1, 1)
                .asSlice(1, (long) rows * cols * size); // unaligned, as tensors in a file can be
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long at = ((long) r * cols + c) * size;
                float x = v[r][c];
                switch (type) {
                    case F32 -> seg.set(F32, at, x);
                    case F16 -> seg.set(I16, at, Float.floatToFloat16(x));
                    case BF16 -> seg.set(I16, at, (short) (Float.floatToRawIntBits(x) >>> 16));
                    default -> throw new IllegalArgumentException(type.toString());
                }
            }
        }
        return new Matrix("w", rows, cols, type, seg);
    }
}
