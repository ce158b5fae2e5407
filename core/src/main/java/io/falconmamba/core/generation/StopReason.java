package io.falconmamba.core.generation;

/** Why a generation ended. */
public enum StopReason {
    /** A token of {@link GenerationConfig#stopTokenIds()} was generated (it is the last of the result's tokens). */
    EOS,
    /** A {@link StopCondition} (stop strings, stop token sequences) fired on the last generated token. */
    STOP_SEQUENCE,
    /** {@link GenerationConfig#maxNewTokens()} tokens were generated. */
    LENGTH,
    /** A {@link CancellationToken} was cancelled. */
    CANCELLED
}
