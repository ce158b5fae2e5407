package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.testutil.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SessionBatchTest {

    static final FalconMambaModel MODEL = Fixtures.loadModel("tiny-falcon-mamba", 1);

    static Session sessionOf(int... ids) {
        Session s = new Session(MODEL);
        s.append(ids);
        return s;
    }

    static GenerationConfig greedy(int n) {
        return GenerationConfig.builder()
                .doSample(false)
                .maxNewTokens(n)
                .stopTokenIds()
                .build();
    }

    static GenerationConfig seeded(int n, long seed) {
        return GenerationConfig.builder()
                .doSample(true)
                .temperature(0.9)
                .topK(40)
                .repetitionPenalty(1.1)
                .seed(seed)
                .maxNewTokens(n)
                .stopTokenIds()
                .build();
    }

    @Test
    void membersThatJoinAtDifferentStepsGenerateWhatEachWouldAlone() {
        int[][] prompts = {{5, 17, 42}, {99, 3}, {250, 7, 11, 12, 13}, {1}};
        GenerationConfig[] configs = {greedy(9), seeded(14, 7), greedy(4), seeded(11, 123)};
        int[][] alone = new int[prompts.length][];
        for (int i = 0; i < prompts.length; i++) {
            alone[i] = sessionOf(prompts[i]).generate(configs[i]).tokens();
        }

        SessionBatch batch = new SessionBatch(MODEL);
        List<SessionBatch.Member> members = new ArrayList<>();
        List<SessionBatch.Member> done = new ArrayList<>();
        for (int step = 0; step < 40 && done.size() < prompts.length; step++) {
            if (step % 3 == 0 && members.size() < prompts.length) {
                int i = members.size();
                members.add(batch.join(sessionOf(prompts[i]), configs[i], null, null, null));
            }
            done.addAll(batch.step());
        }
        assertEquals(prompts.length, done.size());
        for (int i = 0; i < prompts.length; i++) {
            assertArrayEquals(alone[i], members.get(i).result().tokens(), "member " + i);
        }
        assertEquals(0, batch.size());
    }

    @Test
    void aFinishedSessionContinuesLikeOneThatGeneratedAlone() {
        Session batched = sessionOf(5, 17, 42);
        Session alone = sessionOf(5, 17, 42);
        SessionBatch batch = new SessionBatch(MODEL);
        batch.join(batched, greedy(6), null, null, null);
        batch.join(sessionOf(8, 9), greedy(20), null, null, null);
        while (batch.size() > 0) {
            batch.step();
        }
        alone.generate(greedy(6));
        assertArrayEquals(alone.tokens(), batched.tokens());
        assertTrue(batched.hasPendingToken());
        batched.append(new int[] {3, 4});
        alone.append(new int[] {3, 4});
        assertArrayEquals(
                alone.generate(greedy(8)).tokens(), batched.generate(greedy(8)).tokens());
    }

    @Test
    void aCancelledMemberLeavesAtTheNextStep() {
        CancellationToken cancel = new CancellationToken();
        SessionBatch batch = new SessionBatch(MODEL);
        SessionBatch.Member m = batch.join(sessionOf(5, 17), greedy(50), null, null, cancel);
        batch.join(sessionOf(6, 18), greedy(50), null, null, null);
        batch.step();
        cancel.cancel();
        List<SessionBatch.Member> done = batch.step();
        assertEquals(List.of(m), done);
        assertEquals(StopReason.CANCELLED, m.result().stopReason());
        assertEquals(1, batch.size());
    }

    @Test
    void aSessionWithoutInputOrFromAnotherBatchIsRefused() {
        SessionBatch batch = new SessionBatch(MODEL);
        assertThrows(IllegalStateException.class, () -> batch.join(new Session(MODEL), greedy(3), null, null, null));
        Session s = sessionOf(1, 2);
        batch.join(s, greedy(3), null, null, null);
        assertThrows(IllegalArgumentException.class, () -> batch.join(s, greedy(3), null, null, null));
    }
}
