package io.falconmamba.core.generation;

/**
 * Cancels a running generation from any thread (or from its own {@link TokenListener}). The generator checks it
 * before each token is sampled and right after each token is delivered, so after {@link #cancel()} returns at most
 * one more token (the one whose forward pass was already running) is produced. Prompt prefill in chunked mode is
 * checked between chunks. A token stays cancelled; use a new one for the next generation.
 */
public final class CancellationToken {

    private volatile boolean cancelled;

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }
}
