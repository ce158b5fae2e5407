package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** One model, many sequences: from two threads at once, and as one batch. */
class ConcurrencyAndBatchTest {

    /** Prefill then 30 greedy steps; returns all logits seen, in order. */
    static float[][] run(FalconMambaModel m, int[] prompt) {
        SequenceState s = m.newState();
        float[][] out = new float[31][];
        float[] logits = m.prefill(s, prompt, PrefillMode.chunked(3));
        for (int i = 0; i < 31; i++) {
            out[i] = logits.clone();
            if (i < 30) {
                logits = m.decode(s, argmax(logits));
            }
        }
        return out;
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Equal up to float32 rounding: the JIT tier changes the last bits of the Vector API's exp/log1p and of lane
     * reductions (interpreted vs compiled), so a run during warm-up and a later one can differ by ~1e-7. A state
     * shared or clobbered between threads would differ by orders of magnitude more, and change greedy tokens.
     */
    static void assertSame(float[] want, float[] got, String what) {
        double d = Fixtures.maxAbsDiff(want, got);
        assertTrue(d <= 1e-5, what + " differs by " + d);
        assertEquals(argmax(want), argmax(got), what + " greedy token");
    }

    @Test
    void twoThreadsWithTwoStatesMatchRunningOneAfterTheOther() throws Exception {
        Reference ref = Reference.of("tiny-falcon-mamba");
        try (FalconMambaModel m = Fixtures.loadModel("tiny-falcon-mamba", 2)) {
            int[] p0 = ref.inputIds(0);
            int[] p1 = ref.inputIds(1);
            float[][] seq0 = run(m, p0);
            float[][] seq1 = run(m, p1);
            ExecutorService ex = Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 5; round++) {
                    CountDownLatch start = new CountDownLatch(1);
                    Future<float[][]> a = ex.submit(() -> {
                        start.await();
                        return run(m, p0);
                    });
                    Future<float[][]> b = ex.submit(() -> {
                        start.await();
                        return run(m, p1);
                    });
                    start.countDown();
                    float[][] ra = a.get(60, TimeUnit.SECONDS);
                    float[][] rb = b.get(60, TimeUnit.SECONDS);
                    for (int i = 0; i < ra.length; i++) {
                        assertSame(seq0[i], ra[i], "thread A step " + i);
                        assertSame(seq1[i], rb[i], "thread B step " + i);
                    }
                }
            } finally {
                ex.shutdownNow();
            }
        }
    }

    @Test
    void batchDecodeEqualsEachSequenceAlone() {
        for (String name : Fixtures.MODELS) {
            Reference ref = Reference.of(name);
            try (FalconMambaModel m = Fixtures.loadModel(name, 2)) {
                int[][] prompts = {ref.inputIds(0), ref.inputIds(1), {0, 7}, {0, 300, 12, 9, 44}};
                SequenceState[] batch = new SequenceState[prompts.length];
                SequenceState[] alone = new SequenceState[prompts.length];
                for (int i = 0; i < prompts.length; i++) {
                    batch[i] = m.newState();
                    alone[i] = m.newState();
                    m.prefill(batch[i], prompts[i], PrefillMode.PARALLEL);
                    m.prefill(alone[i], prompts[i], PrefillMode.PARALLEL);
                }
                int[] tokens = new int[prompts.length];
                for (int step = 0; step < 10; step++) {
                    for (int i = 0; i < prompts.length; i++) {
                        tokens[i] = argmax(batch[i].logits());
                    }
                    // The last sequence leaves the batch after 5 steps.
                    int count = step < 5 ? prompts.length : prompts.length - 1;
                    m.decodeBatch(batch, tokens, count);
                    for (int i = 0; i < count; i++) {
                        m.decode(alone[i], tokens[i]);
                        double d = Fixtures.maxAbsDiff(batch[i].logits(), alone[i].logits());
                        // Batch rows go through the tiled matrix × matrix kernel, single ones through matrix × vector:
                        // the same sums in another order, so equal within float32 rounding.
                        assertTrue(d <= 1e-5, name + " step " + step + " sequence " + i + " differs by " + d);
                    }
                }
            }
        }
    }
}
