package io.falconmamba.server;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.Session;
import io.falconmamba.core.generation.SessionBatch;
import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.core.generation.StopReason;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Continuous batching on one thread that owns every model call. Each turn of its loop admits waiting jobs into free
 * slots (starting each from the longest cached state prefix of its prompt), prefills one chunk of the oldest
 * admitted prompt, then runs one {@link SessionBatch#step()} for every job that is decoding. A new prompt thus holds
 * decoding up for at most one prefill chunk, a job joins the batch at the step after its prefill and leaves at the
 * step it finishes, and a cancelled job (disconnect, timeout) is dropped at its next step.
 *
 * <p>The state at the end of each prompt and at the end of each reply goes into the {@link SessionCache}, keyed by
 * its tokens, so a request that extends a cached conversation prefills only its new tokens.
 */
final class Scheduler implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Scheduler.class.getName());

    private final FalconMambaModel model;
    private final SessionCache cache;
    private final Metrics metrics;
    private final int maxBatch;
    private final PrefillMode chunkMode;
    private final int prefillChunk;
    private final BlockingQueue<Job> queue;
    private final Thread thread;

    // Owned by the scheduler thread.
    private final ArrayDeque<Job> prefilling = new ArrayDeque<>();
    private final List<Job> decoding = new ArrayList<>();
    private final SessionBatch batch;
    private volatile boolean running = true;

    Scheduler(FalconMambaModel model, SessionCache cache, Metrics metrics, int maxBatch, int maxQueue, int chunk) {
        this.model = model;
        this.cache = cache;
        this.metrics = metrics;
        this.maxBatch = maxBatch;
        this.prefillChunk = chunk;
        this.chunkMode = PrefillMode.chunked(chunk);
        this.queue = new ArrayBlockingQueue<>(maxQueue);
        this.batch = new SessionBatch(model);
        this.thread =
                Thread.ofPlatform().name("falcon-mamba-scheduler").daemon().unstarted(this::loop);
        thread.start();
    }

    /** Queues a job; false when the queue is full (the caller answers 429). */
    boolean submit(Job job) {
        if (!running) {
            return false;
        }
        boolean ok = queue.offer(job);
        metrics.queueDepth.set(queue.size());
        return ok;
    }

    private void loop() {
        while (running) {
            try {
                if (prefilling.isEmpty() && decoding.isEmpty()) {
                    Job first = queue.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    admit(first);
                }
                while (prefilling.size() + decoding.size() < maxBatch) {
                    Job next = queue.poll();
                    if (next == null) {
                        break;
                    }
                    admit(next);
                }
                metrics.queueDepth.set(queue.size());
                prefillOneChunk();
                decodeOneStep();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // A failure inside a model call leaves the batch in an unknown state: fail what is in it, go on.
                LOG.log(Level.SEVERE, "scheduler step failed", e);
                failAll(e);
            }
        }
        failAll(new IllegalStateException("the server is shutting down"));
    }

    /**
     * Starts a job from the longest cached prefix of its prompt. A cached state of the whole prompt with its logits
     * current joins the batch at once; one whose last token is still pending (a reply) does not serve, since a
     * batch joins with logits current and that token is fed only with further input: the cache then gives the
     * longest prefix one token shorter (one lookup, counted once).
     */
    private void admit(Job job) {
        if (expired(job)) {
            finish(job, StopReason.CANCELLED, new int[0]);
            return;
        }
        SessionCache.Match m = cache.longestPrefixWithLogits(job.prompt);
        if (m != null) {
            job.session = m.session();
            job.cachedTokens = m.length();
            metrics.cacheTokensSaved.addAndGet(m.length());
        } else {
            job.session = new Session(model, chunkMode);
        }
        job.fed = job.cachedTokens;
        if (job.fed == job.prompt.length) {
            startDecoding(job);
        } else {
            prefilling.add(job);
            metrics.prefilling.set(prefilling.size());
        }
    }

    private void startDecoding(Job job) {
        job.member = batch.join(job.session, job.config, job.stream, job.stream, job.cancellation);
        decoding.add(job);
    }

    private void prefillOneChunk() {
        Job job = prefilling.peek();
        if (job == null) {
            return;
        }
        if (expired(job)) {
            prefilling.poll();
            finish(job, StopReason.CANCELLED, new int[0]);
            return;
        }
        int to = Math.min(job.prompt.length, job.fed + prefillChunk);
        long t0 = System.nanoTime();
        job.session.append(Arrays.copyOfRange(job.prompt, job.fed, to), chunkMode);
        metrics.prefillNanos.addAndGet(System.nanoTime() - t0);
        metrics.prefillTokens.addAndGet(to - job.fed);
        job.fed = to;
        if (to == job.prompt.length) {
            prefilling.poll();
            cache.put(job.session);
            startDecoding(job);
        }
        metrics.prefilling.set(prefilling.size());
    }

    private void decodeOneStep() {
        if (decoding.isEmpty()) {
            return;
        }
        for (Job job : decoding) {
            expired(job);
        }
        int n = batch.size();
        long t0 = System.nanoTime();
        List<SessionBatch.Member> done = batch.step();
        if (n > 0) {
            metrics.decodeNanos.addAndGet(System.nanoTime() - t0);
            metrics.decodeTokens.addAndGet(n);
            metrics.decodeSteps.incrementAndGet();
        }
        if (!done.isEmpty()) {
            for (int i = decoding.size() - 1; i >= 0; i--) {
                Job job = decoding.get(i);
                if (done.contains(job.member)) {
                    decoding.remove(i);
                    var result = job.member.result();
                    if (result.stopReason() != StopReason.CANCELLED) {
                        cache.put(job.session);
                    }
                    finish(job, result.stopReason(), result.tokens());
                }
            }
        }
        metrics.batchSize.set(batch.size());
    }

    /** Cancels a job past its deadline; true when the job is cancelled for any reason. */
    private static boolean expired(Job job) {
        if (!job.cancelled() && System.nanoTime() - job.deadlineNanos > 0) {
            job.cancel("timeout");
        }
        return job.cancelled();
    }

    private void finish(Job job, StopReason reason, int[] generated) {
        job.session = null;
        if (reason == StopReason.CANCELLED) {
            metrics.cancelled.increment();
        }
        metrics.promptTokens.add(job.prompt.length);
        metrics.completionTokens.add(generated.length);
        try {
            job.complete(generated, reason);
        } catch (RuntimeException e) {
            job.fail(e);
        }
    }

    private void failAll(Throwable cause) {
        List<Job> all = new ArrayList<>(prefilling);
        all.addAll(decoding);
        prefilling.clear();
        decoding.clear();
        for (Job j : all) {
            j.cancel("error");
        }
        // Cancelled members leave the batch at its next step without a model call.
        try {
            batch.step();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "could not clear the batch", e);
        }
        if (!running) {
            queue.drainTo(all);
        }
        for (Job j : all) {
            j.fail(cause);
        }
        metrics.prefilling.set(0);
        metrics.batchSize.set(batch.size());
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
