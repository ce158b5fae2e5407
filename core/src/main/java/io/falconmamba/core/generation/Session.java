package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A sequence that goes on across calls: a {@link SequenceState} plus every token id it has seen (the repetition
 * penalty needs them). A chat turn costs only its new tokens: {@link #append(int[])} prefills them on top of the
 * state, {@link #generate(GenerationConfig, TokenListener)} continues from there, and the generated tokens become
 * part of the sequence for the next turn.
 *
 * <p><b>The pending token.</b> When a generation stops, its last token has been sampled but not fed to the model
 * (feeding it costs a full forward pass whose logits nobody may need). The session records it as <em>pending</em>:
 * it is already in {@link #tokens()}, and it is fed lazily, together with the next appended tokens (one prefill)
 * or by one decode step at the start of the next generation. Fork and snapshot carry it, so a copy continues exactly
 * like the original. Hence {@link #fedTokens()} can be one less than {@link #length()}.
 *
 * <p>Not thread-safe (use {@link #fork()} for parallel continuations); a {@link CancellationToken} may be
 * cancelled from any thread.
 */
public final class Session {

    private static final int SNAPSHOT_MAGIC = 0x464D534E; // "FMSN"
    private static final int SNAPSHOT_VERSION = 2;
    /** Magic, version, model identity, payload length, payload CRC32C. */
    private static final int SNAPSHOT_HEADER_BYTES = 4 + 4 + 8 + 4 + 4;

    private final FalconMambaModel model;
    private final int vocabSize;
    private final SequenceState state;
    private final TokenHistory history;
    private PrefillMode prefillMode;
    /** Sampled but not yet fed to the state, or -1. */
    private int pending = -1;
    /** The logits after the last fed token are valid (false before any input and while a token is pending). */
    private boolean hasLogits;
    /** Input feeding time since the last generation, reported by the next one. */
    private long prefillNanos;

    /** An empty session; input is prefilled in chunks of {@link PrefillMode#DEFAULT_CHUNK}. */
    public Session(FalconMambaModel model) {
        this(model, PrefillMode.chunked(PrefillMode.DEFAULT_CHUNK));
    }

    /** An empty session whose {@link #append(int[])} uses {@code prefillMode}. */
    public Session(FalconMambaModel model, PrefillMode prefillMode) {
        this(
                requireModel(model),
                model.newState(),
                new TokenHistory(model.config().vocabSize()),
                prefillMode);
    }

    private Session(FalconMambaModel model, SequenceState state, TokenHistory history, PrefillMode prefillMode) {
        if (prefillMode == null) {
            throw new IllegalArgumentException("prefillMode must not be null");
        }
        this.model = model;
        this.vocabSize = model.config().vocabSize();
        this.state = state;
        this.history = history;
        this.prefillMode = prefillMode;
    }

    private static FalconMambaModel requireModel(FalconMambaModel model) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        return model;
    }

    public FalconMambaModel model() {
        return model;
    }

    public PrefillMode prefillMode() {
        return prefillMode;
    }

    public void prefillMode(PrefillMode mode) {
        if (mode == null) {
            throw new IllegalArgumentException("prefillMode must not be null");
        }
        this.prefillMode = mode;
    }

    /** Every token of the sequence so far: appended input and generated ids, the pending one included. */
    public int[] tokens() {
        return history.toArray();
    }

    /** Number of tokens in the sequence ({@link #tokens()}). */
    public int length() {
        return history.size();
    }

    /** Number of tokens the model state has consumed: {@link #length()}, less one while a token is pending. */
    public int fedTokens() {
        return history.size() - (pending >= 0 ? 1 : 0);
    }

    /** Whether the last generated token is still to be fed (see the class comment). */
    public boolean hasPendingToken() {
        return pending >= 0;
    }

    /** Appends input (e.g. a user turn) with the session's prefill mode. */
    public void append(int[] tokens) {
        append(tokens, prefillMode);
    }

    /**
     * Appends input tokens: they (and a pending token, if any) are prefilled on top of the state in one call, so a
     * turn costs only its new tokens. An empty array changes nothing.
     *
     * @throws IllegalArgumentException for an id outside the vocabulary (the session is then unchanged)
     */
    public void append(int[] tokens, PrefillMode mode) {
        if (tokens == null) {
            throw new IllegalArgumentException("tokens must not be null");
        }
        if (mode == null) {
            throw new IllegalArgumentException("prefillMode must not be null");
        }
        TokenHistory.checkIds(tokens, vocabSize, "appended");
        if (tokens.length == 0) {
            return;
        }
        int[] input = tokens;
        if (pending >= 0) {
            input = new int[tokens.length + 1];
            input[0] = pending;
            System.arraycopy(tokens, 0, input, 1, tokens.length);
        }
        long t0 = System.nanoTime();
        model.prefill(state, input, mode);
        prefillNanos += System.nanoTime() - t0;
        pending = -1;
        hasLogits = true;
        history.addAll(tokens);
    }

    public GenerationResult generate(GenerationConfig config) {
        return generate(config, null, null, null);
    }

    public GenerationResult generate(GenerationConfig config, TokenListener listener) {
        return generate(config, listener, null, null);
    }

    /**
     * Generates from the end of the sequence; the generated tokens join it (the last one pending). The repetition
     * penalty sees the whole sequence. {@link GenerationConfig#prefillMode()} is not used here (the input was fed by
     * {@link #append}); {@link GenerationResult#contextTokens()} is the sequence length before this generation.
     *
     * @throws IllegalStateException when the session is empty (append input first)
     */
    public GenerationResult generate(
            GenerationConfig config,
            TokenListener listener,
            StopCondition stopCondition,
            CancellationToken cancellation) {
        if (!hasLogits && pending < 0) {
            throw new IllegalStateException(
                    "the session has no input to continue from: append at least one token first");
        }
        GenerationRun run = new GenerationRun(config, history, listener, stopCondition, cancellation);
        run.addPrefillNanos(prefillNanos);
        prefillNanos = 0;
        if (!run.start()) {
            return run.result();
        }
        if (pending >= 0) {
            long t0 = System.nanoTime();
            feed(pending);
            run.addPrefillNanos(System.nanoTime() - t0);
        }
        while (true) {
            int token = run.sample(state.logits());
            if (token < 0) {
                break;
            }
            pending = token;
            hasLogits = false;
            run.deliver(token);
            if (run.finished()) {
                break;
            }
            feed(token);
        }
        return run.result();
    }

    // Hooks for SessionBatch, which runs the same loop as generate with the decode step shared across sessions.

    boolean hasLogits() {
        return hasLogits;
    }

    SequenceState state() {
        return state;
    }

    TokenHistory history() {
        return history;
    }

    /** Input feeding time since the last generation, handed to the next one. */
    long takePrefillNanos() {
        long t = prefillNanos;
        prefillNanos = 0;
        return t;
    }

    /** {@code token} was sampled and joined the history; the state has not consumed it yet. */
    void markPending(int token) {
        pending = token;
        hasLogits = false;
    }

    /** The pending token was fed by a batch decode step: the state's logits follow it. */
    void markFed() {
        pending = -1;
        hasLogits = true;
    }

    private void feed(int token) {
        model.decode(state, token);
        pending = -1;
        hasLogits = true;
    }

    /** An independent copy (state, tokens, pending token): both continue exactly as this one would. */
    public Session fork() {
        Session s = new Session(model, state.copy(), history.copy(), prefillMode);
        s.pending = pending;
        s.hasLogits = hasLogits;
        return s;
    }

    /**
     * The whole session as bytes: a header (magic {@code FMSN}, format version, the model's
     * {@link FalconMambaModel#identity()}, the payload's length and its CRC32C), then the payload (vocabulary size,
     * pending token, whether the state's logits are current, the token ids, and {@link SequenceState#toBytes()}, which
     * holds the recurrent state and the last logits). {@link #restore(FalconMambaModel, byte[])} continues
     * identically.
     */
    public byte[] snapshot() {
        byte[] stateBytes = state.toBytes();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(stateBytes.length + 4 * history.size() + 64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(vocabSize);
            out.writeInt(pending);
            out.writeBoolean(hasLogits);
            out.writeInt(history.size());
            for (int i = 0; i < history.size(); i++) {
                out.writeInt(history.get(i));
            }
            out.writeInt(stateBytes.length);
            out.write(stateBytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] payload = bytes.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(payload);
        return ByteBuffer.allocate(SNAPSHOT_HEADER_BYTES + payload.length)
                .putInt(SNAPSHOT_MAGIC)
                .putInt(SNAPSHOT_VERSION)
                .putLong(model.identity())
                .putInt(payload.length)
                .putInt((int) crc.getValue())
                .put(payload)
                .array();
    }

    /** Restores a {@link #snapshot()} for this model, with the default prefill mode. */
    public static Session restore(FalconMambaModel model, byte[] snapshot) {
        return restore(model, snapshot, PrefillMode.chunked(PrefillMode.DEFAULT_CHUNK));
    }

    /**
     * Restores a {@link #snapshot()} for this model.
     *
     * @throws IllegalArgumentException naming what is wrong: not a session snapshot, another format version, made
     *     for another model, truncated or extended, a checksum mismatch (corrupt bytes), inconsistent contents, or a
     *     state holding NaN or infinity
     */
    public static Session restore(FalconMambaModel model, byte[] snapshot, PrefillMode prefillMode) {
        requireModel(model);
        if (snapshot == null) {
            throw new IllegalArgumentException("snapshot must not be null");
        }
        int vocab = model.config().vocabSize();
        ByteBuffer header = ByteBuffer.wrap(snapshot);
        if (snapshot.length < 8) {
            throw new IllegalArgumentException("session snapshot is truncated: " + snapshot.length + " bytes");
        }
        int magic = header.getInt();
        if (magic != SNAPSHOT_MAGIC) {
            throw new IllegalArgumentException(
                    "not a session snapshot (bad magic 0x" + Integer.toHexString(magic) + ")");
        }
        int version = header.getInt();
        if (version != SNAPSHOT_VERSION) {
            throw new IllegalArgumentException(
                    "session snapshot version " + version + " is not supported (expected " + SNAPSHOT_VERSION + ")");
        }
        if (snapshot.length < SNAPSHOT_HEADER_BYTES) {
            throw new IllegalArgumentException("session snapshot is truncated: " + snapshot.length + " bytes");
        }
        long identity = header.getLong();
        if (identity != model.identity()) {
            throw new IllegalArgumentException("session snapshot was made for another model (identity "
                    + Long.toHexString(identity) + ", this model " + Long.toHexString(model.identity()) + ")");
        }
        int payloadLength = header.getInt();
        int expectedCrc = header.getInt();
        if (payloadLength != header.remaining()) {
            throw new IllegalArgumentException("session snapshot is "
                    + (payloadLength > header.remaining() ? "truncated" : "followed by extra bytes") + ": payload of "
                    + header.remaining() + " bytes, the header says " + payloadLength);
        }
        CRC32C crc = new CRC32C();
        crc.update(snapshot, SNAPSHOT_HEADER_BYTES, payloadLength);
        if ((int) crc.getValue() != expectedCrc) {
            throw new IllegalArgumentException("session snapshot is corrupt: checksum mismatch (CRC32C "
                    + Integer.toHexString((int) crc.getValue()) + ", recorded " + Integer.toHexString(expectedCrc)
                    + ")");
        }
        try (DataInputStream in =
                new DataInputStream(new ByteArrayInputStream(snapshot, SNAPSHOT_HEADER_BYTES, payloadLength))) {
            int snapVocab = in.readInt();
            if (snapVocab != vocab) {
                throw new IllegalArgumentException(
                        "session snapshot is for a vocabulary of " + snapVocab + " tokens, the model has " + vocab);
            }
            int pending = in.readInt();
            boolean hasLogits = in.readBoolean();
            int n = in.readInt();
            if (n < 0 || (long) n * 4 > snapshot.length) {
                throw new IllegalArgumentException("session snapshot is corrupt: token count " + n);
            }
            if (pending < -1 || pending >= vocab || (pending >= 0 && (hasLogits || n == 0))) {
                throw new IllegalArgumentException("session snapshot is corrupt: pending token " + pending);
            }
            TokenHistory history = new TokenHistory(vocab);
            for (int i = 0; i < n; i++) {
                int id = in.readInt();
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException(
                            "session snapshot is corrupt: token id " + id + " at index " + i);
                }
                history.add(id);
            }
            if (pending >= 0 && history.get(n - 1) != pending) {
                throw new IllegalArgumentException("session snapshot is corrupt: pending token is not the last token");
            }
            int stateLength = in.readInt();
            if (stateLength < 0 || stateLength != in.available()) {
                throw new IllegalArgumentException("session snapshot is corrupt: state of " + stateLength + " bytes, "
                        + in.available() + " bytes left");
            }
            byte[] stateBytes = in.readNBytes(stateLength);
            SequenceState state;
            try {
                state = model.restoreState(stateBytes);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("session snapshot: " + e.getMessage(), e);
            }
            long fed = n - (pending >= 0 ? 1 : 0);
            if (state.position() != fed || hasLogits != (fed > 0 && pending < 0)) {
                throw new IllegalArgumentException("session snapshot is corrupt: the state has consumed "
                        + state.position() + " tokens, the session " + fed);
            }
            Session s = new Session(model, state, history, prefillMode);
            s.pending = pending;
            s.hasLogits = hasLogits;
            return s;
        } catch (EOFException e) {
            throw new IllegalArgumentException("session snapshot is truncated (" + snapshot.length + " bytes)", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
