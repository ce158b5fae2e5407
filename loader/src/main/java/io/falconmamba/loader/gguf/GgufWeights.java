package io.falconmamba.loader.gguf;

import io.falconmamba.core.HugePages;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightType;
import io.falconmamba.core.kernels.Format;
import io.falconmamba.loader.WeightFiles;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A GGUF file of architecture {@code mamba} seen as the engine's weights, by Hugging Face tensor name
 * ({@link MambaTensorNames} maps the names).
 *
 * <p>Every tensor is a zero-copy view of the mapping: F32, F16 and BF16 as element types, the block types the
 * engine has kernels for ({@link #format}) as the core {@link Format} of the same name, the blocks as ggml stores
 * them. {@code ssm_a} holds A = −exp(A_log) while the model reads A_log, so A_log is computed back as log(−A)
 * into a small array of its own (d_inner × state floats; exp(log(−A)) returns A to within a float rounding).
 * A tensor of any other type is refused with its name and type.
 */
public final class GgufWeights implements WeightFiles {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GgufFile file;
    private final Arena derived = Arena.ofShared();
    /** A_log per layer, derived once from ssm_a. */
    private final Map<String, Tensor> aLogs = new ConcurrentHashMap<>();

    public GgufWeights(GgufFile file) {
        this.file = file;
    }

    /** The file read. */
    @Override
    public Optional<HugePages.Backing> pageBacking() {
        return HugePages.backing(file.mapping());
    }

    @Override
    public String hugePages() {
        return file.hugePages();
    }

    public GgufFile file() {
        return file;
    }

    @Override
    public Path location() {
        return file.path();
    }

    /** The size of the GGUF file. */
    @Override
    public long byteSize() {
        return file.fileSize();
    }

    @Override
    public void released(MemorySegment data) {
        file.released(data);
    }

    /** The Hugging Face names of the tensors the name table maps, sorted. */
    @Override
    public Set<String> names() {
        Set<String> out = new TreeSet<>();
        for (String g : file.tensors().keySet()) {
            String hf = MambaTensorNames.toHuggingFace(g);
            if (hf != null) {
                out.add(hf);
            }
        }
        return out;
    }

    @Override
    public String storedType(String name) {
        String g = MambaTensorNames.toGguf(name);
        if (g == null || !file.contains(g)) {
            throw new GgufException(file.path() + ": no tensor for '" + name + "'");
        }
        return file.info(g).type().name();
    }

    @Override
    public boolean contains(String name) {
        String g = MambaTensorNames.toGguf(name);
        return g != null && file.contains(g);
    }

    /**
     * The tensor of a Hugging Face name.
     *
     * @throws GgufException naming the file, both names and the type when absent or of a type the engine cannot
     *     run
     */
    @Override
    public Tensor tensor(String name) {
        String g = MambaTensorNames.toGguf(name);
        if (g == null || !file.contains(g)) {
            throw new GgufException(file.path() + ": no tensor for '" + name + "'"
                    + (g == null ? " (no GGUF name maps to it)" : " (looked for '" + g + "')"));
        }
        GgufTensorInfo t = file.info(g);
        if (MambaTensorNames.isALog(name)) {
            return aLogs.computeIfAbsent(name, n -> aLog(n, t)); // asked for by validation and by the model
        }
        Format format = format(t.type());
        if (format == null) {
            throw new GgufException(file.path() + ": tensor '" + g + "' has type " + t.type()
                    + ", which the engine cannot run (it runs F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K,"
                    + " Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS)");
        }
        try {
            return new Tensor(name, format, t.shape(), file.data(g));
        } catch (IllegalArgumentException e) {
            throw new GgufException(file.path() + ": tensor '" + g + "': " + e.getMessage(), e);
        }
    }

    private Tensor aLog(String name, GgufTensorInfo t) {
        if (!t.type().readable()) {
            throw new GgufException(file.path() + ": tensor '" + t.name() + "' has type " + t.type()
                    + ", which this build cannot read");
        }
        long n = t.elements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new GgufException(file.path() + ": tensor '" + t.name() + "' has " + n + " elements, too many");
        }
        float[] a = new float[(int) n];
        Dequantizer.dequantize(t.type(), file.data(t.name()), 0, a, 0, a.length);
        for (int i = 0; i < a.length; i++) {
            if (!(a[i] < 0)) {
                throw new GgufException(file.path() + ": tensor '" + t.name() + "' element " + i + " is " + a[i]
                        + "; A = -exp(A_log) must be negative");
            }
            a[i] = (float) Math.log(-a[i]);
        }
        MemorySegment out;
        synchronized (derived) {
            out = derived.allocate(4L * n, 4);
        }
        MemorySegment.copy(a, 0, out, F32, 0, a.length);
        return new Tensor(name, WeightType.F32, t.shape(), out);
    }

    /** The engine's format of a ggml type (the same name and block layout), or {@code null} when it has none. */
    static Format format(GgmlType t) {
        return switch (t) {
            case F32 -> Format.F32;
            case F16 -> Format.F16;
            case BF16 -> Format.BF16;
            case Q8_0 -> Format.Q8_0;
            case Q4_0 -> Format.Q4_0;
            case Q4_1 -> Format.Q4_1;
            case Q5_0 -> Format.Q5_0;
            case Q5_1 -> Format.Q5_1;
            case Q2_K -> Format.Q2_K;
            case Q3_K -> Format.Q3_K;
            case Q4_K -> Format.Q4_K;
            case Q5_K -> Format.Q5_K;
            case Q6_K -> Format.Q6_K;
            case IQ4_NL -> Format.IQ4_NL;
            case IQ4_XS -> Format.IQ4_XS;
            default -> null;
        };
    }

    /** Unmaps the file and frees derived tensors. */
    @Override
    public void close() {
        try {
            file.close();
        } finally {
            synchronized (derived) {
                if (derived.scope().isAlive()) {
                    derived.close();
                }
            }
        }
    }

    @Override
    public String toString() {
        return "GgufWeights[" + file.path() + "]";
    }
}
