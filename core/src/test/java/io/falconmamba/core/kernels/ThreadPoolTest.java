package io.falconmamba.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The pool covers every index exactly once per call, under contention, and reports a task's failure. */
class ThreadPoolTest {

    @Test
    void everyIndexRunsExactlyOncePerCallEvenWithBusyCores() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        // Two busy threads compete for the cores, so pool workers get descheduled mid-call.
        Thread[] hogs = new Thread[2];
        for (int i = 0; i < hogs.length; i++) {
            hogs[i] = Thread.ofPlatform().daemon().start(() -> {
                long x = 0;
                while (!stop.get()) {
                    x += System.nanoTime() & 1;
                }
                if (x == 42) {
                    System.out.print("");
                }
            });
        }
        try (ThreadPool pool = new ThreadPool(3)) {
            for (int call = 0; call < 3000; call++) {
                int n = 1 + call % 97;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.parallelFor(n, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "call " + call + " index " + i);
                }
            }
        } finally {
            stop.set(true);
            for (Thread h : hogs) {
                h.join();
            }
        }
    }

    @Test
    void aFailingChunkIsRethrownToTheCaller() {
        try (ThreadPool pool = new ThreadPool(2)) {
            IllegalStateException boom = new IllegalStateException("boom");
            for (int call = 0; call < 50; call++) {
                IllegalStateException got = assertThrows(
                        IllegalStateException.class,
                        () -> pool.parallelFor(64, (from, to) -> {
                            if (from <= 40 && 40 < to) {
                                throw boom;
                            }
                        }));
                assertSame(boom, got);
                // The pool still works afterwards.
                AtomicIntegerArray hits = new AtomicIntegerArray(10);
                pool.parallelFor(10, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < 10; i++) {
                    assertEquals(1, hits.get(i));
                }
            }
        }
    }
}
