package io.falconmamba.core.kernels;

/**
 * One product call's arguments, the one piece of plumbing every kernel shares: a kernel keeps one job per calling
 * thread (so a call allocates nothing), {@link #start} stores the call, lets the kernel lay x out
 * ({@link #prepare}), splits the kernel's units (row blocks or tiles) over the pool and forgets the call's arrays
 * however it ends, so a job never keeps a caller's buffers or a closed matrix reachable.
 */
abstract class ProductJob<W extends Weight> implements ThreadPool.RangeTask {

    W w;
    float[] x;
    int xOff;
    int xStride;
    int tokens;
    float[] out;
    int outOff;
    int outStride;

    /**
     * Runs the product: {@link #run(int, int)} over {@code [0, prepare())}, split over {@code pool} (or the caller
     * alone where {@link #pool} says so).
     */
    final void start(
            W w,
            float[] x,
            int xOff,
            int xStride,
            int tokens,
            float[] out,
            int outOff,
            int outStride,
            ThreadPool pool) {
        this.w = w;
        this.x = x;
        this.xOff = xOff;
        this.xStride = xStride;
        this.tokens = tokens;
        this.out = out;
        this.outOff = outOff;
        this.outStride = outStride;
        try {
            int units = prepare();
            pool(pool).parallelFor(units, this);
        } finally {
            this.w = null;
            this.x = null;
            this.out = null;
        }
    }

    /** Lays x out for the kernels where they need it; returns the number of units {@link #run(int, int)} takes. */
    abstract int prepare();

    /** The pool to split over: the caller's, unless the kernel knows the call is too small to share. */
    ThreadPool pool(ThreadPool pool) {
        return pool;
    }
}
