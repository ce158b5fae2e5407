package io.falconmamba.core;

/**
 * The hyperparameters the block stack needs (the loader builds this from config.json).
 *
 * @param architecture       falcon_mamba or mamba
 * @param vocabSize          embedding rows
 * @param hiddenSize         d
 * @param intermediateSize   d_in, channels of the mixer
 * @param stateSize          N, SSM state per channel
 * @param numLayers          L
 * @param convKernel         k, causal conv width
 * @param timeStepRank       R, rank of the dt projection
 * @param layerNormEpsilon   eps of the block and final RMSNorms
 * @param mixerRmsEps        eps of the weightless dt/B/C norms (falcon_mamba only)
 * @param useBias            in_proj and out_proj carry biases
 * @param useConvBias        conv1d carries a bias
 * @param tieWordEmbeddings  the output head reuses the embedding
 */
public record MambaConfig(
        Architecture architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int stateSize,
        int numLayers,
        int convKernel,
        int timeStepRank,
        float layerNormEpsilon,
        float mixerRmsEps,
        boolean useBias,
        boolean useConvBias,
        boolean tieWordEmbeddings) {

    public MambaConfig {
        if (architecture == null) {
            throw new IllegalArgumentException("architecture must not be null");
        }
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("state_size", stateSize);
        positive("num_hidden_layers", numLayers);
        positive("conv_kernel", convKernel);
        positive("time_step_rank", timeStepRank);
        if (!(layerNormEpsilon > 0) || !Float.isFinite(layerNormEpsilon)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be a positive number, got " + layerNormEpsilon);
        }
        if (!(mixerRmsEps > 0) || !Float.isFinite(mixerRmsEps)) {
            throw new IllegalArgumentException("mixer_rms_eps must be a positive number, got " + mixerRmsEps);
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /** Bytes of recurrent state one sequence needs: per layer a conv window d_in×(k-1) and an SSM state d_in×N, float32. */
    public long stateBytesPerSequence() {
        return (long) numLayers * intermediateSize * ((convKernel - 1) + stateSize) * Float.BYTES;
    }
}
