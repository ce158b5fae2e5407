package io.falconmamba.core.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed pool that splits one range of work across its threads and the calling thread.
 *
 * <p>Workers are started once and woken per call: nothing is allocated per call. Only one caller drives the
 * pool at a time; a second caller that finds it busy runs its whole range on its own thread instead of waiting,
 * so two sequences decoding at once from two threads both progress.
 */
public final class ThreadPool implements AutoCloseable {

    /** The work: process indices {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock driver = new ReentrantLock();
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Thread caller;
    // The current job; published by the volatile write of generation.
    private RangeTask task;
    private int size;
    private volatile Throwable failure;

    /** A pool of {@code threads} threads in all (the caller is one of them); 1 runs everything inline. */
    public ThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int part = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("falcon-mamba-kernel-" + part).unstarted(() -> workLoop(part));
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

    /** Runs {@code task} over {@code [0, n)} split into contiguous parts, one per thread; returns when all are done. */
    public void parallelFor(int n, RangeTask task) {
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n == 1 || closed || !driver.tryLock()) {
            task.run(0, n);
            return;
        }
        try {
            this.task = task;
            this.size = n;
            this.caller = Thread.currentThread();
            remaining.set(workers.length);
            generation = generation + 1;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            runPart(task, n, 0);
            int spins = 0;
            while (remaining.get() > 0) {
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 20_000);
                }
            }
            this.task = null;
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

    private void runPart(RangeTask t, int n, int part) {
        int from = (int) ((long) n * part / threads);
        int to = (int) ((long) n * (part + 1) / threads);
        if (from < to) {
            t.run(from, to);
        }
    }

    private void workLoop(int part) {
        int seen = 0;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            try {
                runPart(task, size, part);
            } catch (Throwable t) {
                // Keep the worker alive; the caller rethrows (e.g. weights used after their file was closed).
                failure = t;
            } finally {
                if (remaining.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
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
