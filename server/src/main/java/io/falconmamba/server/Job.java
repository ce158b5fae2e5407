package io.falconmamba.server;

import io.falconmamba.TextStream;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.Session;
import io.falconmamba.core.generation.SessionBatch;
import io.falconmamba.core.generation.StopReason;
import io.falconmamba.tokenizer.Tokenizer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One generation request on its way through the {@link Scheduler}: its prompt ids and settings, the text it has
 * produced, and how it ended. The HTTP thread that made it waits on {@link #outcome} and, when streaming, drains
 * {@link #pieces}; the scheduler thread does all the model work.
 */
final class Job {

    /**
     * How a job ended: its text (cut at a stop string), the generated ids, and how many of the prompt's tokens
     * came from the state cache rather than being prefilled.
     */
    record Outcome(
            String text, int[] ids, int promptTokens, int cachedTokens, StopReason stopReason, String cancelReason) {

        int completionTokens() {
            return ids.length;
        }
    }

    final int[] prompt;
    final GenerationConfig config;
    final TextStream stream;
    final CancellationToken cancellation = new CancellationToken();
    final long deadlineNanos;
    /** Text as it becomes final, for a streaming response (stop strings already cut). */
    final BlockingQueue<String> pieces = new LinkedBlockingQueue<>();

    final CompletableFuture<Outcome> outcome = new CompletableFuture<>();

    private final StopTrimmer trimmer;
    private volatile String cancelReason;

    // Owned by the scheduler thread.
    Session session;
    int cachedTokens;
    int fed;
    SessionBatch.Member member;

    Job(int[] prompt, GenerationConfig config, Tokenizer tokenizer, long deadlineNanos) {
        this.prompt = prompt;
        this.config = config;
        this.deadlineNanos = deadlineNanos;
        this.trimmer = new StopTrimmer(config.stopStrings());
        this.stream = new TextStream(tokenizer, this::onText, config.stopStrings());
    }

    private void onText(String piece) {
        String out = trimmer.push(piece);
        if (!out.isEmpty()) {
            pieces.add(out);
        }
    }

    /** Asks the scheduler to drop the job at its next step ({@code reason} for the log and the error). */
    void cancel(String reason) {
        if (cancelReason == null) {
            cancelReason = reason;
        }
        cancellation.cancel();
    }

    boolean cancelled() {
        return cancellation.isCancelled();
    }

    /** Called by the scheduler once generation has ended; emits the held-back text first. */
    void complete(int[] ids, StopReason reason) {
        stream.finish();
        String rest = trimmer.finish();
        if (!rest.isEmpty()) {
            pieces.add(rest);
        }
        outcome.complete(new Outcome(
                trimmer.emittedText(),
                ids,
                prompt.length,
                cachedTokens,
                reason,
                reason == StopReason.CANCELLED ? cancelReason : null));
    }

    void fail(Throwable t) {
        outcome.completeExceptionally(t);
    }
}
