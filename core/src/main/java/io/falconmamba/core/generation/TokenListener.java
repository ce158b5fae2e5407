package io.falconmamba.core.generation;

/**
 * Receives each generated token id as soon as it is sampled, before the model is run on it: exactly the ids of
 * {@link GenerationResult#tokens()}, in order, stop token included. Called on the generating thread; an exception
 * thrown here ends the generation and propagates to the caller.
 */
@FunctionalInterface
public interface TokenListener {

    /** A listener that ignores every token. */
    TokenListener NONE = token -> {};

    void onToken(int tokenId);
}
