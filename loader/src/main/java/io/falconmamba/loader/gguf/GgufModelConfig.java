package io.falconmamba.loader.gguf;

import io.falconmamba.core.Architecture;
import io.falconmamba.loader.ModelConfig;
import java.util.List;
import java.util.OptionalInt;

/**
 * The hyper-parameters of a GGUF file of architecture {@code mamba}, as llama.cpp writes them, read into the same
 * {@link ModelConfig} a {@code config.json} gives.
 *
 * <p>{@code mamba.ssm.dt_b_c_rms} true means Falcon Mamba (RMS norm on dt, B and C, epsilon {@link #MIXER_RMS_EPS});
 * {@code mamba.attention.layer_norm_rms_epsilon} is the layer-norm epsilon. Biases and tying follow from the tensors present:
 * {@code blk.0.ssm_in.bias} (use_bias), {@code blk.0.ssm_conv1d.bias} (use_conv_bias), {@code output.weight}
 * absent = tied to the embedding.
 */
public final class GgufModelConfig {

    public static final String ARCHITECTURE = "mamba";

    /**
     * Epsilon of the dt/B/C RMS norms. GGUF has no key for it; this is transformers' FalconMambaConfig default,
     * which TII's checkpoints use and the fixture references match (the layer-norm epsilon 1e-5, which llama.cpp
     * applies there, moves the fixture logits by ~2e-4).
     */
    public static final double MIXER_RMS_EPS = 1e-6;

    private GgufModelConfig() {}

    /**
     * Reads the configuration of a GGUF file.
     *
     * @throws GgufException naming the file and the key at fault, or the architecture when it is not {@code mamba}
     */
    public static ModelConfig read(GgufFile f) {
        String arch = f.string("general.architecture");
        if (!arch.equals(ARCHITECTURE)) {
            throw new GgufException(f.path() + ": general.architecture is '" + arch
                    + "'; this engine runs architecture 'mamba' (Mamba-1 and Falcon Mamba)");
        }
        String p = ARCHITECTURE + ".";
        int hidden = f.integer(p + "embedding_length", 1);
        int layers = f.integer(p + "block_count", 1);
        int conv = f.integer(p + "ssm.conv_kernel", 1);
        int inner = f.integer(p + "ssm.inner_size", 1);
        int state = f.integer(p + "ssm.state_size", 1);
        int rank = f.integer(p + "ssm.time_step_rank", 1);
        double eps = f.number(p + "attention.layer_norm_rms_epsilon");
        // the engine computes in float32: a FLOAT64 epsilon must stay positive and finite there too
        if (!((float) eps > 0) || Float.isInfinite((float) eps)) {
            throw new GgufException(f.path() + ": metadata '" + p + "attention.layer_norm_rms_epsilon' is " + eps
                    + ", not a positive float32");
        }
        boolean falcon = f.bool(p + "ssm.dt_b_c_rms", false);
        int vocab = vocabSize(f, p);
        boolean useBias = f.contains("blk.0.ssm_in.bias");
        boolean useConvBias = f.contains("blk.0.ssm_conv1d.bias");
        boolean tied = !f.contains("output.weight");
        OptionalInt bos = tokenId(f, "tokenizer.ggml.bos_token_id");
        OptionalInt eos = tokenId(f, "tokenizer.ggml.eos_token_id");
        OptionalInt pad = tokenId(f, "tokenizer.ggml.padding_token_id");
        return new ModelConfig(
                f.path(),
                falcon ? Architecture.FALCON_MAMBA : Architecture.MAMBA,
                vocab,
                hidden,
                inner,
                state,
                layers,
                conv,
                rank,
                (double) inner / hidden,
                eps,
                MIXER_RMS_EPS,
                useBias,
                useConvBias,
                tied,
                bos,
                eos.isPresent() ? List.of(eos.getAsInt()) : List.of(),
                pad);
    }

    /** {@code mamba.vocab_size} when written, else the embedding's rows (what llama.cpp falls back to). */
    private static int vocabSize(GgufFile f, String p) {
        if (f.get(p + "vocab_size") != null) {
            return f.integer(p + "vocab_size", 1);
        }
        if (!f.contains("token_embd.weight")) {
            throw new GgufException(f.path() + ": no tensor 'token_embd.weight' and no '" + p + "vocab_size'");
        }
        long[] shape = f.info("token_embd.weight").shape();
        if (shape.length != 2 || shape[0] < 1 || shape[0] > Integer.MAX_VALUE) {
            throw new GgufException(f.path() + ": tensor 'token_embd.weight' has shape "
                    + java.util.Arrays.toString(shape) + ", not [vocab, hidden] with at least one token");
        }
        return (int) shape[0];
    }

    private static OptionalInt tokenId(GgufFile f, String key) {
        return f.get(key) == null ? OptionalInt.empty() : OptionalInt.of(f.integer(key, 0));
    }
}
