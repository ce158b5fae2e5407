package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.SequenceState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Sessions that decode together: each {@link #step()} samples the next token of every member and feeds the
 * survivors with one {@link FalconMambaModel#decodeBatch} call (each weight read once for the whole batch). Members
 * join and leave between steps, so a caller that owns admission and prefill builds continuous batching on it.
 *
 * <p>A member generates exactly what {@link Session#generate(GenerationConfig, TokenListener, StopCondition,
 * CancellationToken)} would give it alone (the same sampler, seed, history and stop rules); its session ends the
 * same way too, the last sampled token pending, so it can be cached or continued.
 *
 * <p>Not thread-safe: one thread joins and steps. Listeners run on that thread.
 */
public final class SessionBatch {

    /** One session in the batch and the generation it runs. */
    public static final class Member {
        private final Session session;
        private final GenerationRun run;

        private Member(Session session, GenerationRun run) {
            this.session = session;
            this.run = run;
        }

        public Session session() {
            return session;
        }

        /** Tokens generated so far. */
        public int generated() {
            return run.count();
        }

        public boolean finished() {
            return run.finished();
        }

        /** @throws IllegalStateException before the member has finished */
        public GenerationResult result() {
            return run.result();
        }
    }

    private final FalconMambaModel model;
    private final List<Member> members = new ArrayList<>();
    /** Members that finished at {@link #join} (nothing to generate, or cancelled), returned by the next step. */
    private final List<Member> finishedAtJoin = new ArrayList<>();

    private SequenceState[] states = new SequenceState[8];
    private int[] tokens = new int[8];

    public SessionBatch(FalconMambaModel model) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        this.model = model;
    }

    /**
     * Adds a session whose input is fed (its logits current, no token pending: {@link Session#append} last); it
     * generates from the next {@link #step()} on.
     *
     * @throws IllegalArgumentException for a session of another model, one already in the batch, or invalid settings
     * @throws IllegalStateException    when the session has no current logits
     */
    public Member join(
            Session session,
            GenerationConfig config,
            TokenListener listener,
            StopCondition stopCondition,
            CancellationToken cancellation) {
        if (session == null) {
            throw new IllegalArgumentException("session must not be null");
        }
        if (session.model() != model) {
            throw new IllegalArgumentException("the session belongs to another model");
        }
        if (!session.hasLogits()) {
            throw new IllegalStateException("a session joins a batch with its input fed: append input first");
        }
        for (Member m : members) {
            if (m.session == session) {
                throw new IllegalArgumentException("the session is already in the batch");
            }
        }
        GenerationRun run = new GenerationRun(config, session.history(), listener, stopCondition, cancellation);
        run.addPrefillNanos(session.takePrefillNanos());
        Member m = new Member(session, run);
        if (run.start()) {
            members.add(m);
        } else {
            finishedAtJoin.add(m);
        }
        return m;
    }

    /** Members still generating. */
    public int size() {
        return members.size();
    }

    /**
     * One token for every member: samples and delivers it, then feeds the ones that go on in one batched decode
     * step. Returns the members that finished (they have left the batch), in join order.
     */
    public List<Member> step() {
        List<Member> done = new ArrayList<>(finishedAtJoin);
        finishedAtJoin.clear();
        int n = members.size();
        if (states.length < n) {
            states = Arrays.copyOf(states, Math.max(n, 2 * states.length));
            tokens = Arrays.copyOf(tokens, states.length);
        }
        int count = 0;
        List<Member> survivors = new ArrayList<>(n);
        for (Member m : members) {
            int token = m.run.sample(m.session.state().logits());
            if (token >= 0) {
                m.session.markPending(token);
                m.run.deliver(token);
            }
            if (m.run.finished()) {
                done.add(m);
                continue;
            }
            survivors.add(m);
            states[count] = m.session.state();
            tokens[count] = token;
            count++;
        }
        if (count > 0) {
            model.decodeBatch(states, tokens, count);
            for (Member m : survivors) {
                m.session.markFed();
            }
        }
        Arrays.fill(states, 0, count, null);
        members.clear();
        members.addAll(survivors);
        return done;
    }
}
