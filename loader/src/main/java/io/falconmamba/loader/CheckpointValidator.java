package io.falconmamba.loader;

import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.Tensor;
import io.falconmamba.core.WeightSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that a checkpoint holds every tensor a configuration needs, in a float type the engine reads
 * (F32, F16, BF16), with the shape the configuration implies. Extra tensors are allowed, except layers beyond
 * {@code num_hidden_layers} (a sign the config does not belong to the weights), which are reported when the
 * source can list its names ({@link Checkpoint}, {@link SafetensorsFile}).
 */
public final class CheckpointValidator {

    private static final Pattern LAYER = Pattern.compile("backbone\\.layers\\.(\\d+)\\..*");

    private CheckpointValidator() {}

    /**
     * A tensor the architecture uses.
     *
     * @param name     Hugging Face name
     * @param shape    shape implied by the config
     * @param required false for a tensor that may be absent (lm_head.weight with tied embeddings); when present
     *                 it must still have the shape
     */
    public record ExpectedTensor(String name, long[] shape, boolean required) {
        public ExpectedTensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ExpectedTensor e
                    && name.equals(e.name)
                    && Arrays.equals(shape, e.shape)
                    && required == e.required;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape) + (required ? "" : " (optional)");
        }
    }

    /**
     * Missing or misshaped tensors listed before the check stops: a layer count far beyond the weights (a corrupt
     * header can claim two billion) gives a short report, not one line per tensor it implies.
     */
    static final int MAX_TENSOR_PROBLEMS = 20;

    /** Every tensor the configuration implies, in model order. */
    public static List<ExpectedTensor> expectedTensors(MambaConfig c) {
        List<ExpectedTensor> list = new ArrayList<>();
        forEachExpected(c, list::add);
        return list;
    }

    /** Hands the expected tensors to {@code visitor} in model order until it returns false. */
    private static void forEachExpected(MambaConfig c, Predicate<ExpectedTensor> visitor) {
        long v = c.vocabSize();
        long d = c.hiddenSize();
        if (!visitor.test(new ExpectedTensor("backbone.embeddings.weight", new long[] {v, d}, true))) {
            return;
        }
        for (int i = 0; i < c.numLayers(); i++) {
            for (ExpectedTensor e : layer(c, i)) {
                if (!visitor.test(e)) {
                    return;
                }
            }
        }
        if (visitor.test(new ExpectedTensor("backbone.norm_f.weight", new long[] {d}, true))) {
            visitor.test(new ExpectedTensor("lm_head.weight", new long[] {v, d}, !c.tieWordEmbeddings()));
        }
    }

    /** The tensors of layer {@code i}. */
    private static List<ExpectedTensor> layer(MambaConfig c, int i) {
        long d = c.hiddenSize();
        long di = c.intermediateSize();
        long n = c.stateSize();
        long r = c.timeStepRank();
        long k = c.convKernel();
        List<ExpectedTensor> list = new ArrayList<>();
        String p = "backbone.layers." + i + ".";
        String m = p + "mixer.";
        list.add(new ExpectedTensor(p + "norm.weight", new long[] {d}, true));
        list.add(new ExpectedTensor(m + "in_proj.weight", new long[] {2 * di, d}, true));
        if (c.useBias()) {
            list.add(new ExpectedTensor(m + "in_proj.bias", new long[] {2 * di}, true));
        }
        list.add(new ExpectedTensor(m + "conv1d.weight", new long[] {di, 1, k}, true));
        if (c.useConvBias()) {
            list.add(new ExpectedTensor(m + "conv1d.bias", new long[] {di}, true));
        }
        list.add(new ExpectedTensor(m + "x_proj.weight", new long[] {r + 2 * n, di}, true));
        list.add(new ExpectedTensor(m + "dt_proj.weight", new long[] {di, r}, true));
        list.add(new ExpectedTensor(m + "dt_proj.bias", new long[] {di}, true));
        list.add(new ExpectedTensor(m + "A_log", new long[] {di, n}, true));
        list.add(new ExpectedTensor(m + "D", new long[] {di}, true));
        list.add(new ExpectedTensor(m + "out_proj.weight", new long[] {d, di}, true));
        if (c.useBias()) {
            list.add(new ExpectedTensor(m + "out_proj.bias", new long[] {d}, true));
        }
        return list;
    }

    /** conv1d.weight is [d_in, 1, k] in Hugging Face files and [d_in, k] in GGUF files: the same values. */
    private static boolean isConvWithoutGroupAxis(long[] got, long[] expected) {
        return expected.length == 3
                && expected[1] == 1
                && got.length == 2
                && got[0] == expected[0]
                && got[1] == expected[2];
    }

    /** Every mismatch between the configuration and the weights, one line each; empty when they agree. */
    public static List<String> problems(MambaConfig config, WeightSource weights) {
        List<String> problems = new ArrayList<>();
        forEachExpected(config, e -> {
            if (problems.size() == MAX_TENSOR_PROBLEMS) {
                problems.add("(more tensor problems not listed; the config implies " + config.numLayers() + " layers)");
                return false;
            }
            if (!weights.contains(e.name())) {
                if (e.required()) {
                    problems.add(
                            "tensor '" + e.name() + "' is missing (expected shape " + Arrays.toString(e.shape()) + ")");
                }
                return true;
            }
            Tensor t;
            try {
                t = weights.tensor(e.name());
            } catch (IllegalArgumentException ex) {
                problems.add("tensor '" + e.name() + "': " + ex.getMessage());
                return true;
            }
            if (!Arrays.equals(t.shape(), e.shape()) && !isConvWithoutGroupAxis(t.shape(), e.shape())) {
                problems.add("tensor '" + e.name() + "' has shape " + Arrays.toString(t.shape())
                        + " but the config implies " + Arrays.toString(e.shape()));
            }
            return true;
        });
        Iterable<String> names = weights instanceof WeightFiles files
                ? files.names()
                : weights instanceof SafetensorsFile f ? f.names() : List.of();
        int maxLayer = -1;
        for (String name : names) {
            Matcher m = LAYER.matcher(name);
            if (m.matches()) {
                try {
                    maxLayer = Math.max(maxLayer, Integer.parseInt(m.group(1)));
                } catch (NumberFormatException ignored) {
                    maxLayer = Integer.MAX_VALUE;
                }
            }
        }
        if (maxLayer >= config.numLayers()) {
            problems.add("the weights have layer " + maxLayer + " but the config says num_hidden_layers = "
                    + config.numLayers());
        }
        return problems;
    }

    /**
     * Throws when the weights do not match the configuration.
     *
     * @throws SafetensorsException naming the checkpoint and listing every missing or misshaped tensor with both shapes
     */
    public static void validate(MambaConfig config, WeightSource weights) {
        List<String> problems = problems(config, weights);
        if (!problems.isEmpty()) {
            String where = weights instanceof Checkpoint cp
                    ? cp.location().toString()
                    : weights instanceof SafetensorsFile f ? f.path().toString() : String.valueOf(weights);
            throw new SafetensorsException(where + ": weights do not match the config (" + config.architecture() + "), "
                    + problems.size() + " problem(s):\n  " + String.join("\n  ", problems));
        }
    }
}
