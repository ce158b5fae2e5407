package io.falconmamba.core;

/** STUB: signatures only, the implementation lands shortly. */
public final class FalconMambaModel {
    private final MambaConfig config;

    private FalconMambaModel(MambaConfig config) {
        this.config = config;
    }

    /** Builds the block stack over weights viewed in place; {@code threads} sizes the kernel pool. */
    public static FalconMambaModel create(MambaConfig config, WeightSource weights, int threads) {
        throw new UnsupportedOperationException("not yet");
    }

    public MambaConfig config() {
        return config;
    }

    /** A fresh zero state for one sequence. */
    public SequenceState newState() {
        throw new UnsupportedOperationException("not yet");
    }

    /** Restores a state saved with {@link SequenceState#toBytes()}, checked against this model. */
    public SequenceState restoreState(byte[] bytes) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Feeds a prompt; returns the logits of its last position (the state's own buffer, overwritten by the next call). */
    public float[] prefill(SequenceState state, int[] tokens, PrefillMode mode) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Feeds a prompt; returns fresh logits for every position [T][vocab]. */
    public float[][] prefillAllLogits(SequenceState state, int[] tokens, PrefillMode mode) {
        throw new UnsupportedOperationException("not yet");
    }

    /** One decode step; returns the state's logits buffer. */
    public float[] decode(SequenceState state, int token) {
        throw new UnsupportedOperationException("not yet");
    }

    /** One decode step for {@code count} sequences at once, each weight read once; each state's {@code logits()} is filled. */
    public void decodeBatch(SequenceState[] states, int[] tokens, int count) {
        throw new UnsupportedOperationException("not yet");
    }
}
