package io.falconmamba.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.Architecture;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.WeightSource;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The loader's view of a Hugging Face {@code config.json} for {@code model_type} {@code falcon_mamba} or
 * {@code mamba}, with transformers' defaults for absent fields ({@code FalconMambaConfig} / {@code MambaConfig}):
 * vocab_size 50280, hidden_size 768, state_size 16, num_hidden_layers 32, layer_norm_epsilon 1e-5,
 * bos/eos/pad 0, expand 2, conv_kernel 4, use_bias false, use_conv_bias true, time_step_rank "auto"
 * (= ceil(hidden_size / 16)), tie_word_embeddings true, mixer_rms_eps 1e-6.
 *
 * <p>{@code intermediate_size}: when present it is used as is, even when it disagrees with
 * {@code expand × hidden_size} (tiiuae/falcon-mamba-7b ships {@code expand: 16} with {@code intermediate_size: 8192}
 * and weights of 8192 channels); when absent it is {@code int(expand × hidden_size)}.
 *
 * @param source            the file read
 * @param architecture      from {@code model_type}
 * @param vocabSize         vocab_size
 * @param hiddenSize        hidden_size (d)
 * @param intermediateSize  intermediate_size (d_in)
 * @param stateSize         state_size (N)
 * @param numLayers         num_hidden_layers
 * @param convKernel        conv_kernel
 * @param timeStepRank      time_step_rank, "auto" resolved
 * @param expand            expand
 * @param layerNormEpsilon  layer_norm_epsilon
 * @param mixerRmsEps       mixer_rms_eps (only used by falcon_mamba)
 * @param useBias           use_bias
 * @param useConvBias       use_conv_bias
 * @param tieWordEmbeddings tie_word_embeddings
 * @param bosTokenId        bos_token_id (empty when null)
 * @param eosTokenIds       eos_token_id, an int or a list of ints (empty when null)
 * @param padTokenId        pad_token_id (empty when null)
 */
public record ModelConfig(
        Path source,
        Architecture architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int stateSize,
        int numLayers,
        int convKernel,
        int timeStepRank,
        double expand,
        double layerNormEpsilon,
        double mixerRmsEps,
        boolean useBias,
        boolean useConvBias,
        boolean tieWordEmbeddings,
        OptionalInt bosTokenId,
        List<Integer> eosTokenIds,
        OptionalInt padTokenId) {

    public static final String FILE_NAME = "config.json";

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /**
     * Reads a {@code config.json} (or the {@code config.json} of a model directory).
     *
     * @throws ModelConfigException naming the file and the field at fault
     */
    public static ModelConfig fromJson(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve(FILE_NAME) : path;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelConfigException(file + ": no such file", e);
        } catch (IOException e) {
            throw new ModelConfigException(file + ": cannot read: " + e, e);
        }
        return parse(file, bytes);
    }

    /** Parses the bytes of {@code file} (named in messages). */
    static ModelConfig parse(Path file, byte[] bytes) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Json.decodeUtf8(bytes));
        } catch (CharacterCodingException e) {
            throw new ModelConfigException(file + ": not valid UTF-8", e);
        } catch (IOException | RuntimeException e) {
            String msg = e.getMessage() == null
                    ? e.toString()
                    : e.getMessage().lines().findFirst().orElse("");
            throw new ModelConfigException(file + ": not valid JSON: " + msg, e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelConfigException(file + ": must be a JSON object, got " + Json.typeOf(root));
        }
        return new Reader(file, root).read();
    }

    /** The hyperparameters the core block stack needs. */
    public MambaConfig toMambaConfig() {
        return new MambaConfig(
                architecture,
                vocabSize,
                hiddenSize,
                intermediateSize,
                stateSize,
                numLayers,
                convKernel,
                timeStepRank,
                (float) layerNormEpsilon,
                (float) mixerRmsEps,
                useBias,
                useConvBias,
                tieWordEmbeddings);
    }

    /**
     * Checks that {@code weights} hold every tensor this configuration needs, with the implied shapes.
     *
     * @throws SafetensorsException listing every missing or misshaped tensor
     * @see CheckpointValidator
     */
    public void check(WeightSource weights) {
        CheckpointValidator.validate(toMambaConfig(), weights);
    }

    /** Reads fields with defaults and validation. */
    private static final class Reader {
        private final Path file;
        private final JsonNode root;

        Reader(Path file, JsonNode root) {
            this.file = file;
            this.root = root;
        }

        ModelConfig read() {
            JsonNode mt = root.get("model_type");
            if (mt == null) {
                throw error("model_type", "missing; expected \"falcon_mamba\" or \"mamba\"");
            }
            if (!mt.isTextual()) {
                throw error("model_type", "must be a string, got " + Json.typeOf(mt));
            }
            Architecture arch = null;
            for (Architecture a : Architecture.values()) {
                if (a.modelType().equals(mt.textValue())) {
                    arch = a;
                }
            }
            if (arch == null) {
                throw error(
                        "model_type",
                        "unsupported model type \"" + mt.textValue() + "\"; supported: \"falcon_mamba\", \"mamba\"");
            }
            int vocab = positiveInt("vocab_size", 50280);
            int hidden = positiveInt("hidden_size", 768);
            int state = positiveInt("state_size", 16);
            int layers = positiveInt("num_hidden_layers", 32);
            int conv = positiveInt("conv_kernel", 4);
            double expand = positiveNumber("expand", 2);
            int intermediate;
            if (present("intermediate_size")) {
                intermediate = positiveInt("intermediate_size", 0);
            } else {
                double d = Math.floor(expand * hidden);
                if (d > Integer.MAX_VALUE || d < 1) {
                    throw error(
                            "expand",
                            "expand × hidden_size = " + (expand * hidden) + " is not a usable intermediate size");
                }
                intermediate = (int) d;
            }
            int rank;
            JsonNode r = root.get("time_step_rank");
            if (r == null || (r.isTextual() && r.textValue().equals("auto"))) {
                rank = (hidden + 15) / 16;
            } else if (r.isTextual()) {
                throw error("time_step_rank", "must be a positive integer or \"auto\", got \"" + r.textValue() + "\"");
            } else {
                rank = positiveInt("time_step_rank", 0);
            }
            double lnEps = epsilon("layer_norm_epsilon", 1e-5);
            double mixerEps = epsilon("mixer_rms_eps", 1e-6);
            boolean useBias = bool("use_bias", false);
            boolean useConvBias = bool("use_conv_bias", true);
            boolean tie = bool("tie_word_embeddings", true);
            OptionalInt bos = tokenId("bos_token_id", 0);
            OptionalInt pad = tokenId("pad_token_id", 0);
            List<Integer> eos = eosIds();
            return new ModelConfig(
                    file,
                    arch,
                    vocab,
                    hidden,
                    intermediate,
                    state,
                    layers,
                    conv,
                    rank,
                    expand,
                    lnEps,
                    mixerEps,
                    useBias,
                    useConvBias,
                    tie,
                    bos,
                    eos,
                    pad);
        }

        private boolean present(String field) {
            return root.has(field);
        }

        private ModelConfigException error(String field, String what) {
            return new ModelConfigException(file + ": field '" + field + "' " + what);
        }

        private int integer(String field, JsonNode v) {
            if (!v.isIntegralNumber()) {
                throw error(field, "must be an integer, got " + Json.typeOf(v) + " " + Json.show(v));
            }
            if (!v.canConvertToInt()) {
                throw error(field, "is out of range: " + Json.show(v));
            }
            return v.intValue();
        }

        private int positiveInt(String field, int dflt) {
            JsonNode v = root.get(field);
            if (v == null) {
                return dflt;
            }
            int x = integer(field, v);
            if (x <= 0) {
                throw error(field, "must be positive, got " + x);
            }
            return x;
        }

        private double positiveNumber(String field, double dflt) {
            JsonNode v = root.get(field);
            if (v == null) {
                return dflt;
            }
            if (!v.isNumber()) {
                throw error(field, "must be a number, got " + Json.typeOf(v) + " " + Json.show(v));
            }
            double x = v.doubleValue();
            if (!(x > 0) || !Double.isFinite(x)) {
                throw error(field, "must be positive, got " + Json.show(v));
            }
            return x;
        }

        private double epsilon(String field, double dflt) {
            double x = positiveNumber(field, dflt);
            if (!((float) x > 0) || !Float.isFinite((float) x)) {
                throw error(field, "is not a usable float32 epsilon: " + x);
            }
            return x;
        }

        private boolean bool(String field, boolean dflt) {
            JsonNode v = root.get(field);
            if (v == null) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw error(field, "must be true or false, got " + Json.typeOf(v) + " " + Json.show(v));
            }
            return v.booleanValue();
        }

        private OptionalInt tokenId(String field, int dflt) {
            JsonNode v = root.get(field);
            if (v == null) {
                return OptionalInt.of(dflt);
            }
            if (v.isNull()) {
                return OptionalInt.empty();
            }
            int x = integer(field, v);
            if (x < 0) {
                throw error(field, "must be a non-negative token id, got " + x);
            }
            return OptionalInt.of(x);
        }

        private List<Integer> eosIds() {
            String field = "eos_token_id";
            JsonNode v = root.get(field);
            if (v == null) {
                return List.of(0);
            }
            if (v.isNull()) {
                return List.of();
            }
            List<Integer> ids = new ArrayList<>();
            if (v.isArray()) {
                for (JsonNode e : v) {
                    if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0) {
                        throw error(field, "must be a token id or a list of token ids, got " + Json.show(v));
                    }
                    ids.add(e.intValue());
                }
            } else {
                int x = integer(field, v);
                if (x < 0) {
                    throw error(field, "must be a non-negative token id, got " + x);
                }
                ids.add(x);
            }
            return ids;
        }
    }
}
