package io.falconmamba.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.testkit.TestData;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The scheduler on token ids: what the state cache saves, and that a continued state gives the prefilled result. */
class SchedulerTest {

    static FalconMamba demo;
    static GenerationConfig greedy;

    @BeforeAll
    static void load() {
        demo = FalconMamba.load(TestData.demoModel());
        greedy = demo.defaults().toBuilder()
                .doSample(false)
                .maxNewTokens(12)
                .stopTokenIds()
                .build();
    }

    @AfterAll
    static void close() {
        demo.close();
    }

    static Job.Outcome run(Scheduler scheduler, int[] prompt) throws Exception {
        Job job = new Job(prompt, greedy, demo.tokenizer(), System.nanoTime() + TimeUnit.MINUTES.toNanos(1));
        assertTrue(scheduler.submit(job));
        return job.outcome.get(1, TimeUnit.MINUTES);
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void aPromptThatExtendsAReplyPrefillsOnlyItsNewTokensAndGivesTheSameReply() throws Exception {
        SessionCache cache = new SessionCache(64L << 20);
        try (Scheduler scheduler = new Scheduler(demo.model(), cache, new Metrics(), 4, 4, 7)) {
            int[] first = demo.encodePrompt("In the beginning God created the heaven");
            Job.Outcome one = run(scheduler, first);
            assertEquals(0, one.cachedTokens());
            assertEquals(12, one.ids().length);

            int[] next = concat(first, one.ids(), demo.encodePrompt(" And the earth was"));
            Job.Outcome two = run(scheduler, next);
            assertEquals(first.length + one.ids().length, two.cachedTokens());
            Completion scratch = demo.generateIds(next, greedy, null, null);
            assertArrayEquals(scratch.ids(), two.ids());
            assertEquals(scratch.text(), two.text());

            // The same prompt again starts from the state cached at its end: nothing is prefilled.
            Job.Outcome again = run(scheduler, next);
            assertEquals(next.length, again.cachedTokens());
            assertArrayEquals(two.ids(), again.ids());
        }
    }

    @Test
    void aLongPromptIsPrefilledInChunksThatGiveTheUnchunkedResult() throws Exception {
        int[] prompt = IntStream.range(0, 300).map(i -> 1 + (i * 37) % 500).toArray();
        Metrics metrics = new Metrics();
        try (Scheduler scheduler = new Scheduler(demo.model(), new SessionCache(0), metrics, 4, 4, 64)) {
            Job.Outcome out = run(scheduler, prompt);
            assertEquals(300, metrics.prefillTokens.get());
            assertArrayEquals(demo.generateIds(prompt, greedy, null, null).ids(), out.ids());
        }
    }
}
