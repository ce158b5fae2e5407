package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.Fixtures.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Generation on the golden fixture models: greedy ids and per-step logits against Hugging Face's references, and
 * the equivalences the generation API promises (prefill modes, sessions, forks, snapshots, batches, cancellation).
 */
class GenerationModelTest {

    /** Same bound as the model's reference test: float32 vs the float64 reference, ~60× headroom. */
    static final double LOGIT_TOL = 1e-4;

    static final String MAIN = "tiny-falcon-mamba";

    static final Map<String, FalconMambaModel> MODELS = new HashMap<>();
    static final Map<String, Reference> REFS = new HashMap<>();

    @BeforeAll
    static void load() {
        for (String m : Fixtures.MODELS) {
            MODELS.put(
                    m,
                    Fixtures.loadModel(m, 1)); // one thread: tiny matrices, and no pool threads competing for the cores
            REFS.put(m, Reference.of(m));
        }
    }

    @AfterAll
    static void close() {
        MODELS.values().forEach(FalconMambaModel::close);
    }

    static FalconMambaModel model() {
        return MODELS.get(MAIN);
    }

    static int[] prompt(int seq) {
        return REFS.get(MAIN).inputIds(seq);
    }

    static GenerationConfig greedy(int n) {
        return GenerationConfig.builder().maxNewTokens(n).build();
    }

    static GenerationConfig sampling(int n, long seed) {
        return GenerationConfig.builder()
                .maxNewTokens(n)
                .doSample(true)
                .temperature(1.3)
                .topK(100)
                .topP(0.95)
                .seed(seed)
                .build();
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    static Stream<Arguments> modelsAndSequences() {
        List<Arguments> out = new ArrayList<>();
        for (String m : Fixtures.MODELS) {
            for (int s = 0; s < 2; s++) {
                out.add(Arguments.of(m, s));
            }
        }
        return out.stream();
    }

    // ---- against the reference -----------------------------------------------------------------------

    @ParameterizedTest(name = "{0} seq{1}")
    @MethodSource("modelsAndSequences")
    void greedyGenerationMatchesReferenceIdsAndLogits(String name, int seq) {
        FalconMambaModel fm = MODELS.get(name);
        Reference ref = REFS.get(name);
        float[][] expectedLogits = ref.tensors().rows("seq" + seq + ".generated_logits");
        int[] expectedIds = ref.generatedIds(seq);
        SequenceState state = fm.newState();
        List<String> failures = new ArrayList<>();
        AtomicInteger step = new AtomicInteger();
        // the listener runs before the token is fed, so the state's logits are still those the token was chosen from
        TokenListener check = token -> {
            int i = step.getAndIncrement();
            double d = Fixtures.maxAbsDiff(state.logits(), expectedLogits[i]);
            if (!(d <= LOGIT_TOL)) {
                failures.add("step " + i + ": max |logit - reference| = " + d);
            }
        };
        GenerationResult r = Generator.generate(fm, state, ref.inputIds(seq), greedy(20), check, null, null);
        assertTrue(failures.isEmpty(), failures::toString);
        assertArrayEquals(expectedIds, r.tokens());
        assertEquals(StopReason.LENGTH, r.stopReason());
        assertEquals(ref.inputIds(seq).length, r.contextTokens());
        assertEquals(20, step.get());

        // the public entry point gives the same ids
        assertArrayEquals(
                expectedIds,
                Generator.generate(fm, ref.inputIds(seq), greedy(20)).tokens());
    }

    @ParameterizedTest(name = "{0} seq{1}")
    @MethodSource("modelsAndSequences")
    void everyPrefillModeGivesTheSameGeneration(String name, int seq) {
        FalconMambaModel fm = MODELS.get(name);
        int[] expected = REFS.get(name).generatedIds(seq);
        for (PrefillMode mode : List.of(
                PrefillMode.PARALLEL, PrefillMode.chunked(1), PrefillMode.chunked(5), PrefillMode.chunked(256))) {
            GenerationConfig cfg = greedy(20).toBuilder().prefillMode(mode).build();
            assertArrayEquals(
                    expected,
                    Generator.generate(fm, REFS.get(name).inputIds(seq), cfg).tokens(),
                    mode.toString());
            // chunked prefill with a cancellation token goes chunk by chunk in the generator: same result
            assertArrayEquals(
                    expected,
                    Generator.generate(fm, REFS.get(name).inputIds(seq), cfg, null, null, new CancellationToken())
                            .tokens(),
                    mode + " (cancellable)");
        }
    }

    // ---- sessions ----------------------------------------------------------------------------------------

    @Test
    void sessionAppendingInPiecesEqualsOnePrefill() {
        int[] p = prompt(1);
        Session s = new Session(model(), PrefillMode.chunked(4));
        s.append(Arrays.copyOfRange(p, 0, 10));
        s.append(new int[0]);
        s.append(Arrays.copyOfRange(p, 10, 11), PrefillMode.PARALLEL);
        s.append(Arrays.copyOfRange(p, 11, p.length));
        assertArrayEquals(p, s.tokens());
        GenerationResult r = s.generate(greedy(20));
        assertArrayEquals(REFS.get(MAIN).generatedIds(1), r.tokens());
        assertEquals(p.length, r.contextTokens());
        assertTrue(s.hasPendingToken());
        assertEquals(p.length + 20, s.length());
        assertEquals(p.length + 19, s.fedTokens());
    }

    @Test
    void chatTurnsContinueLikeOneLongPrompt() {
        int[] turn1 = prompt(0);
        int[] turn2 = Arrays.copyOfRange(prompt(1), 1, 15);
        int[] turn3 = Arrays.copyOfRange(prompt(1), 15, 30);
        for (GenerationConfig cfg : List.of(
                greedy(6),
                sampling(6, 7),
                sampling(6, 8).toBuilder().repetitionPenalty(1.5).build())) {
            Session s = new Session(model());
            s.append(turn1);
            int[] out1 = s.generate(cfg).tokens();
            s.append(turn2); // the pending last token of out1 is fed with turn2
            int[] out2 = s.generate(cfg).tokens();
            int[] out3 = s.generate(cfg).tokens(); // generate twice in a row: the pending token is decoded first
            s.append(turn3);
            int[] out4 = s.generate(cfg).tokens();

            assertArrayEquals(out1, Generator.generate(model(), turn1, cfg).tokens());
            assertArrayEquals(
                    out2,
                    Generator.generate(model(), concat(turn1, out1, turn2), cfg).tokens());
            assertArrayEquals(
                    out3,
                    Generator.generate(model(), concat(turn1, out1, turn2, out2), cfg)
                            .tokens());
            assertArrayEquals(
                    out4,
                    Generator.generate(model(), concat(turn1, out1, turn2, out2, out3, turn3), cfg)
                            .tokens());
            assertArrayEquals(concat(turn1, out1, turn2, out2, out3, turn3, out4), s.tokens());
        }
    }

    @Test
    void forkAndSnapshotContinueIdentically() {
        GenerationConfig cfg =
                sampling(12, 42).toBuilder().repetitionPenalty(1.2).build();
        for (boolean pending : new boolean[] {false, true}) {
            Session s = new Session(model());
            s.append(prompt(1));
            if (pending) {
                s.generate(cfg.toBuilder().maxNewTokens(5).build());
                assertTrue(s.hasPendingToken());
            }
            Session fork = s.fork();
            byte[] snap = s.snapshot();
            Session restored = Session.restore(model(), snap);
            assertArrayEquals(s.tokens(), restored.tokens());
            assertEquals(s.hasPendingToken(), restored.hasPendingToken());

            int[] a = s.generate(cfg).tokens();
            int[] b = fork.generate(cfg).tokens();
            int[] c = restored.generate(cfg).tokens();
            assertArrayEquals(a, b, "fork, pending=" + pending);
            assertArrayEquals(a, c, "restored, pending=" + pending);
            // and the next turn as well
            int[] turn = {5, 6, 7};
            s.append(turn);
            fork.append(turn);
            restored.append(turn);
            int[] a2 = s.generate(cfg).tokens();
            assertArrayEquals(a2, fork.generate(cfg).tokens());
            assertArrayEquals(a2, restored.generate(cfg).tokens());
        }
        // a fork is independent of its parent
        Session s = new Session(model());
        s.append(prompt(0));
        Session f = s.fork();
        s.append(new int[] {9, 9, 9});
        assertArrayEquals(REFS.get(MAIN).generatedIds(0), f.generate(greedy(20)).tokens());
    }

    @Test
    void corruptSnapshotsAreRejected() {
        Session s = new Session(model());
        s.append(prompt(0));
        s.generate(greedy(3));
        byte[] snap = s.snapshot();
        assertThrows(IllegalArgumentException.class, () -> Session.restore(model(), Arrays.copyOf(snap, 30)));
        assertThrows(
                IllegalArgumentException.class, () -> Session.restore(model(), Arrays.copyOf(snap, snap.length - 1)));
        byte[] badMagic = snap.clone();
        badMagic[0] ^= 1;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Session.restore(model(), badMagic))
                .getMessage()
                .contains("magic"));
        byte[] badVersion = snap.clone();
        badVersion[7] = 9;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Session.restore(model(), badVersion))
                .getMessage()
                .contains("version"));
        assertThrows(IllegalArgumentException.class, () -> Session.restore(model(), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> Session.restore(model(), null));
    }

    @Test
    void sessionMisuseIsRejected() {
        Session s = new Session(model());
        assertThrows(IllegalStateException.class, () -> s.generate(greedy(3)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.append(new int[] {1, 512}));
        assertTrue(e.getMessage().contains("512"), e.getMessage());
        assertEquals(0, s.length(), "a rejected append changes nothing");
        s.append(new int[] {0});
        GenerationResult none = s.generate(greedy(0));
        assertEquals(0, none.tokenCount());
        assertEquals(StopReason.LENGTH, none.stopReason());
    }

    // ---- stop rules --------------------------------------------------------------------------------------

    @Test
    void stopTokenEndsGenerationAndIsIncluded() {
        int[] ref = REFS.get(MAIN).generatedIds(0);
        int stop = ref[5];
        int firstAt = IntStream.range(0, ref.length)
                .filter(i -> ref[i] == stop)
                .findFirst()
                .orElseThrow();
        List<Integer> heard = new ArrayList<>();
        GenerationResult r = Generator.generate(
                model(), prompt(0), greedy(20).toBuilder().stopTokenIds(stop).build(), heard::add);
        assertEquals(StopReason.EOS, r.stopReason());
        assertArrayEquals(Arrays.copyOf(ref, firstAt + 1), r.tokens());
        assertEquals(
                Arrays.stream(r.tokens()).boxed().toList(), heard, "the listener hears exactly the result's tokens");
    }

    @Test
    void stopConditionEndsGenerationWithStopSequence() {
        int[] ref = REFS.get(MAIN).generatedIds(1);
        StopCondition seq = StopCondition.tokenSequences(List.of(new int[] {ref[7], ref[8]}));
        GenerationResult r = Generator.generate(model(), prompt(1), greedy(20), null, seq, null);
        assertEquals(StopReason.STOP_SEQUENCE, r.stopReason());
        int end = IntStream.range(1, ref.length)
                .filter(i -> ref[i - 1] == ref[7] && ref[i] == ref[8])
                .findFirst()
                .orElseThrow();
        assertArrayEquals(Arrays.copyOf(ref, end + 1), r.tokens());

        GenerationConfig withStrings = greedy(5).toBuilder().stopStrings("\n").build();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Generator.generate(model(), prompt(0), withStrings));
        assertTrue(e.getMessage().contains("stopStrings"));
        // a text-based condition (here: a fake "detokenizer" check) satisfies them
        AtomicInteger seen = new AtomicInteger();
        GenerationResult r2 =
                Generator.generate(model(), prompt(0), withStrings, null, t -> seen.incrementAndGet() == 2, null);
        assertEquals(2, r2.tokenCount());
        assertEquals(StopReason.STOP_SEQUENCE, r2.stopReason());
    }

    @Test
    void invalidInputsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Generator.generate(model(), new int[0], greedy(3)));
        assertThrows(IllegalArgumentException.class, () -> Generator.generate(model(), null, greedy(3)));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Generator.generate(model(), new int[] {0, -1}, greedy(3)));
        assertTrue(e.getMessage().contains("-1") && e.getMessage().contains("index 1"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Generator.generate(
                        model(),
                        prompt(0),
                        greedy(3).toBuilder().stopTokenIds(512).build()));
        assertTrue(e.getMessage().contains("stopTokenIds"), e.getMessage());
        GenerationResult zero = Generator.generate(model(), prompt(0), greedy(0));
        assertEquals(0, zero.tokenCount());
        assertEquals(StopReason.LENGTH, zero.stopReason());
    }

    // ---- cancellation -------------------------------------------------------------------------------------

    @Test
    void listenerCancellingAfterThreeTokensStopsAtThree() {
        CancellationToken cancel = new CancellationToken();
        AtomicInteger n = new AtomicInteger();
        GenerationResult r = Generator.generate(
                model(),
                prompt(0),
                greedy(20),
                t -> {
                    if (n.incrementAndGet() == 3) {
                        cancel.cancel();
                    }
                },
                null,
                cancel);
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertArrayEquals(Arrays.copyOf(REFS.get(MAIN).generatedIds(0), 3), r.tokens());

        CancellationToken already = new CancellationToken();
        already.cancel();
        GenerationResult none = Generator.generate(model(), prompt(0), greedy(20), null, null, already);
        assertEquals(StopReason.CANCELLED, none.stopReason());
        assertEquals(0, none.tokenCount());
    }

    @Test
    void cancellingFromAnotherThreadStopsWithinOneToken() throws Exception {
        CancellationToken cancel = new CancellationToken();
        AtomicInteger produced = new AtomicInteger();
        AtomicReference<GenerationResult> result = new AtomicReference<>();
        Thread worker = new Thread(() -> result.set(Generator.generate(
                model(), prompt(1), sampling(1_000_000, 3), t -> produced.incrementAndGet(), null, cancel)));
        worker.start();
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (produced.get() < 5 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        cancel.cancel();
        int atCancel = produced.get();
        worker.join(20_000);
        assertFalse(worker.isAlive(), "generation did not stop");
        GenerationResult r = result.get();
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertTrue(
                r.tokenCount() >= atCancel && r.tokenCount() <= atCancel + 1,
                "cancelled at " + atCancel + " tokens, stopped at " + r.tokenCount());
    }

    // ---- batches -------------------------------------------------------------------------------------------

    @Test
    void batchEqualsSingleRuns() {
        int[] p1 = prompt(1);
        List<BatchRequest> requests = List.of(
                new BatchRequest(prompt(0), greedy(20)),
                new BatchRequest(p1, sampling(16, 11)),
                new BatchRequest(
                        Arrays.copyOf(p1, 23),
                        GenerationConfig.builder()
                                .maxNewTokens(18)
                                .doSample(true)
                                .temperature(0.8)
                                .topP(0.9)
                                .minP(0.05)
                                .repetitionPenalty(1.3)
                                .seed(12)
                                .prefillMode(PrefillMode.PARALLEL)
                                .build()),
                new BatchRequest(Arrays.copyOfRange(p1, 3, 9), sampling(3, 13))); // stops early
        List<List<Integer>> heard = new ArrayList<>();
        List<BatchRequest> withListeners = new ArrayList<>();
        for (BatchRequest r : requests) {
            List<Integer> h = new ArrayList<>();
            heard.add(h);
            withListeners.add(new BatchRequest(r.prompt(), r.config(), h::add));
        }
        List<GenerationResult> batch = BatchGenerator.generate(model(), withListeners);
        List<GenerationResult> narrow = BatchGenerator.generate(model(), requests, 2); // continuous batching
        assertEquals(4, batch.size());
        for (int i = 0; i < requests.size(); i++) {
            BatchRequest r = requests.get(i);
            GenerationResult alone = Generator.generate(model(), r.prompt(), r.config());
            assertArrayEquals(alone.tokens(), batch.get(i).tokens(), "request " + i);
            assertArrayEquals(alone.tokens(), narrow.get(i).tokens(), "request " + i + " (max batch 2)");
            assertEquals(alone.stopReason(), batch.get(i).stopReason());
            assertEquals(Arrays.stream(alone.tokens()).boxed().toList(), heard.get(i));
        }
        assertArrayEquals(REFS.get(MAIN).generatedIds(0), batch.get(0).tokens());
        assertEquals(3, batch.get(3).tokenCount());
        assertNotEquals(
                Arrays.toString(batch.get(1).tokens()),
                Arrays.toString(batch.get(2).tokens()));
    }

    @Test
    void batchHandlesStopsCancellationAndBadRequests() {
        int[] ref = REFS.get(MAIN).generatedIds(0);
        CancellationToken cancel = new CancellationToken();
        AtomicInteger n = new AtomicInteger();
        List<BatchRequest> requests = List.of(
                new BatchRequest(
                        prompt(0), greedy(20).toBuilder().stopTokenIds(ref[4]).build()),
                new BatchRequest(
                        prompt(0),
                        greedy(20),
                        t -> {
                            if (n.incrementAndGet() == 2) {
                                cancel.cancel();
                            }
                        },
                        null,
                        cancel),
                new BatchRequest(prompt(1), greedy(0)),
                new BatchRequest(prompt(1), greedy(20)));
        List<GenerationResult> out = BatchGenerator.generate(model(), requests);
        assertEquals(StopReason.EOS, out.get(0).stopReason());
        assertEquals(ref[4], out.get(0).token(out.get(0).tokenCount() - 1));
        assertEquals(StopReason.CANCELLED, out.get(1).stopReason());
        assertArrayEquals(Arrays.copyOf(ref, 2), out.get(1).tokens());
        assertEquals(StopReason.LENGTH, out.get(2).stopReason());
        assertEquals(0, out.get(2).tokenCount());
        assertArrayEquals(REFS.get(MAIN).generatedIds(1), out.get(3).tokens());

        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> BatchGenerator.generate(
                        model(),
                        List.of(new BatchRequest(prompt(0), greedy(2)), new BatchRequest(new int[0], greedy(2)))));
        assertTrue(e.getMessage().contains("request 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BatchGenerator.generate(model(), List.of(), 0));
        assertEquals(List.of(), BatchGenerator.generate(model(), List.of()));
    }

    @Test
    void resultReportsTimings() {
        GenerationResult r = Generator.generate(model(), prompt(1), greedy(10));
        assertTrue(r.prefillNanos() > 0);
        assertTrue(r.decodeNanos() > 0);
        assertTrue(r.tokensPerSecond() > 0);
        assertTrue(r.toString().contains("LENGTH"));
    }
}
