package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.SequenceState;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generates many sequences together: each prompt is prefilled on its own, then every step decodes all active
 * sequences with one {@link FalconMambaModel#decodeBatch} call (each weight read once for the whole batch). Each
 * sequence keeps its own sampler, seed, settings and stop rules; a finished sequence leaves the batch at once, and
 * with a {@code maxBatchSize} a waiting request takes its slot (continuous batching; its prefill runs between two
 * decode steps). A sequence gets the same tokens as {@link Generator#generate} would give it alone, same seed.
 *
 * <p>Listeners are called on the calling thread, in request order within a step.
 */
public final class BatchGenerator {

    private BatchGenerator() {}

    /** All requests in one batch. Results are in request order. */
    public static List<GenerationResult> generate(FalconMambaModel model, List<BatchRequest> requests) {
        return generate(model, requests, Integer.MAX_VALUE);
    }

    /**
     * At most {@code maxBatchSize} sequences decode together; the others wait for a slot. Results are in request
     * order. Every request is validated before any model work.
     *
     * @throws IllegalArgumentException naming the request index for an invalid request, or for {@code maxBatchSize < 1}
     */
    public static List<GenerationResult> generate(
            FalconMambaModel model, List<BatchRequest> requests, int maxBatchSize) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        if (requests == null) {
            throw new IllegalArgumentException("requests must not be null");
        }
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
        }
        int n = requests.size();
        int vocab = model.config().vocabSize();
        GenerationRun[] runs = new GenerationRun[n];
        for (int i = 0; i < n; i++) {
            BatchRequest r = requests.get(i);
            if (r == null) {
                throw new IllegalArgumentException("request " + i + " is null");
            }
            try {
                Generator.checkPrompt(r.promptView(), vocab);
                TokenHistory history = new TokenHistory(vocab);
                history.addAll(r.promptView());
                runs[i] = new GenerationRun(r.config(), history, r.listener(), r.stopCondition(), r.cancellation());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("request " + i + ": " + e.getMessage(), e);
            }
        }

        GenerationResult[] results = new GenerationResult[n];
        int slots = Math.min(maxBatchSize, Math.max(n, 1));
        SequenceState[] states = new SequenceState[slots];
        int[] tokens = new int[slots];
        int[] activeIndex = new int[slots];
        SequenceState[] activeState = new SequenceState[slots];
        float[][] activeLogits = new float[slots][];
        int active = 0;
        ArrayDeque<SequenceState> free = new ArrayDeque<>();
        int next = 0;

        while (true) {
            // admit waiting requests into free slots
            while (active < slots && next < n) {
                int i = next++;
                GenerationRun run = runs[i];
                if (!run.start()) {
                    results[i] = run.result();
                    continue;
                }
                SequenceState state = free.isEmpty() ? model.newState() : free.pop();
                BatchRequest r = requests.get(i);
                long t0 = System.nanoTime();
                float[] logits =
                        Prefill.feed(model, state, r.promptView(), r.config().prefillMode(), r.cancellation());
                run.addPrefillNanos(System.nanoTime() - t0);
                if (logits == null) {
                    run.cancel();
                    results[i] = run.result();
                    recycle(state, free);
                    continue;
                }
                activeIndex[active] = i;
                activeState[active] = state;
                activeLogits[active] = logits;
                active++;
            }
            if (active == 0) {
                break;
            }
            // sample every active sequence; the survivors form this step's batch
            int count = 0;
            for (int a = 0; a < active; a++) {
                int i = activeIndex[a];
                GenerationRun run = runs[i];
                int token = run.sample(activeLogits[a]);
                if (token >= 0) {
                    run.deliver(token);
                }
                if (run.finished()) {
                    results[i] = run.result();
                    recycle(activeState[a], free);
                    continue;
                }
                activeIndex[count] = i;
                activeState[count] = activeState[a];
                states[count] = activeState[a];
                tokens[count] = token;
                count++;
            }
            Arrays.fill(activeState, count, active, null);
            Arrays.fill(states, count, slots, null);
            active = count;
            if (count > 0) {
                model.decodeBatch(states, tokens, count);
                for (int a = 0; a < count; a++) {
                    activeLogits[a] = activeState[a].logits();
                }
            }
        }
        return List.copyOf(new ArrayList<>(Arrays.asList(results)));
    }

    private static void recycle(SequenceState state, ArrayDeque<SequenceState> free) {
        state.reset();
        free.push(state);
    }
}
