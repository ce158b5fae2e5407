package io.falconmamba.core.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed pool that splits one range of work across its threads and the calling thread.
 *
 * <p>Threads claim pieces of the range one at a time, each piece {@code 1 / (2 · threads)} of what is left
 * (guided self-scheduling): pieces start large and shrink toward the end, so all threads finish within a
 * small piece of each other, and if the OS deschedules a worker (another process wants the core) the others
 * take what is left, so a call waits at most for a piece in progress, never for a sleeping thread to start.
 * (Four fixed chunks per thread leave the last thread up to a whole chunk behind.) Workers are started once and woken per
 * call; nothing is allocated per call. Only one caller drives the pool at a time; a second caller that finds it
 * busy runs its whole range on its own thread instead of waiting, so two sequences decoding at once from two
 * threads both progress.
 */
public final class ThreadPool implements AutoCloseable {

    /** The work: process indices {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private static final int SPINS_BEFORE_PARK = 20_000;

    /**
     * Below this many multiply-adds a call runs on the caller's thread: waking the pool costs a few
     * microseconds, more than small matrices (tiny models, dt_proj) take on one core.
     */
    public static final long MIN_PARALLEL_WORK = 1L << 16;

    /** The caller alone: {@link #parallelFor} runs the whole range on the calling thread. */
    static final ThreadPool INLINE = new ThreadPool(1);

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock driver = new ReentrantLock();
    /** (job generation << 32) | first unclaimed index: a claim succeeds only for the job it was read for. */
    private final AtomicLong claim = new AtomicLong();
    /** Indices of the current job finished. */
    private final AtomicInteger done = new AtomicInteger();

    private volatile int generation;
    private volatile boolean closed;
    /**
     * Jobs alternate between two slots by generation, so a worker that wakes late and reads a slot while the
     * caller is two jobs ahead is caught by the claim check before it runs anything. Published by the volatile
     * write of generation.
     */
    private final Job[] jobs = {new Job(), new Job()};

    private volatile Throwable failure;

    private static final class Job {
        RangeTask task;
        int size;
    }

    /** A pool of {@code threads} threads in all (the caller is one of them); 1 runs everything inline. */
    public ThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform()
                    .daemon()
                    .name("falcon-mamba-kernel-" + (i + 1))
                    .unstarted(this::workLoop);
            workers[i].start();
        }
    }

    /** One thread per available processor. */
    public static ThreadPool ofAvailableProcessors() {
        return new ThreadPool(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    /** The pool for work of {@code multiplyAdds}: this one, or the caller alone for small work. */
    public ThreadPool forWork(long multiplyAdds) {
        return multiplyAdds < MIN_PARALLEL_WORK ? INLINE : this;
    }

    /** Runs {@code task} over {@code [0, n)} in contiguous pieces spread over the threads; returns when all are done. */
    public void parallelFor(int n, RangeTask task) {
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n == 1 || closed || !driver.tryLock()) {
            task.run(0, n);
            return;
        }
        try {
            int gen = generation + 1;
            Job job = jobs[gen & 1];
            job.task = task;
            job.size = n;
            done.set(0);
            claim.set((long) gen << 32);
            generation = gen;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            work(gen);
            int spins = 0;
            while (done.get() < n) {
                if (++spins < SPINS_BEFORE_PARK) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            job.task = null;
            Throwable f = failure;
            if (f != null) {
                failure = null;
                if (f instanceof RuntimeException re) {
                    throw re;
                }
                if (f instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException(f);
            }
        } finally {
            driver.unlock();
        }
    }

    /** Claims and runs pieces of job {@code gen} until none is left. */
    private void work(int gen) {
        Job job = jobs[gen & 1];
        RangeTask t = job.task;
        int n = job.size;
        int share = 2 * threads;
        while (true) {
            long c = claim.get();
            if ((int) (c >>> 32) != gen) {
                return; // a later job: this one is finished
            }
            int from = (int) c;
            if (from >= n) {
                return;
            }
            int size = Math.max(1, (n - from) / share);
            if (!claim.compareAndSet(c, c + size)) {
                continue;
            }
            // The claim succeeded for job gen, so the caller is still waiting on it and t, n are its fields.
            try {
                t.run(from, from + size);
            } catch (Throwable e) {
                // Keep the worker alive; the caller rethrows (e.g. weights used after their file was closed).
                failure = e;
            } finally {
                done.addAndGet(size);
            }
        }
    }

    private void workLoop() {
        int seen = 0;
        while (!closed) {
            int spins = 0;
            int gen;
            while ((gen = generation) == seen && !closed) {
                if (++spins < SPINS_BEFORE_PARK) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = gen;
            work(gen);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
