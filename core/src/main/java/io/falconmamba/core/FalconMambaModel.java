package io.falconmamba.core;

import io.falconmamba.core.kernels.Convert;
import io.falconmamba.core.kernels.MatrixProduct;
import io.falconmamba.core.kernels.RmsNorm;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.core.kernels.Weight;
import java.util.Objects;
import java.util.Optional;

/**
 * A Falcon Mamba / Mamba-1 language model: embedding → L × (RMSNorm → mixer → residual) → norm_f → lm_head,
 * in float32 over weights read in place. Stateless apart from its weights: every sequence keeps its own
 * {@link SequenceState}, so one model serves many sequences, from several threads at once.
 */
public final class FalconMambaModel implements AutoCloseable {

    /**
     * A state keeps its prefill workspace for the next call up to this size, so chunked prefill allocates once
     * per sequence; a bigger block (a long parallel prefill) gets a transient one.
     */
    private static final long CACHED_WORKSPACE_BYTES = 64L << 20;

    private final MambaConfig config;
    private final Weight embeddings;
    private final MambaBlock[] blocks;
    private final float[] normF;
    /** The output projection: the embedding (tied) or lm_head, quantized when asked (a copy: lookups stay exact). */
    private final Weight lmHead;

    private final ThreadPool pool;
    /** Owns the off-heap quantized or copied matrices (none when they are read in place). */
    private final ProjectionLoader projections;

    private final ThreadLocal<Workspace> batchWorkspace = new ThreadLocal<>();
    /** Hash of the config and the tensor table: saved states carry it, so one is never restored on another model. */
    private final long identity;

    private FalconMambaModel(MambaConfig config, WeightSource source, ThreadPool pool, ProjectionLoader q) {
        this.config = config;
        ModelIdentity weights = new ModelIdentity(source, config);
        this.projections = q;
        int v = config.vocabSize();
        int d = config.hiddenSize();
        embeddings = Weights.matrix(weights, "backbone.embeddings.weight", v, d);
        blocks = new MambaBlock[config.numLayers()];
        for (int l = 0; l < blocks.length; l++) {
            blocks[l] = new MambaBlock(config, weights, l, q);
        }
        normF = Weights.vector(weights, "backbone.norm_f.weight", d);
        lmHead = q.apply(config.tieWordEmbeddings() ? embeddings : Weights.matrix(weights, "lm_head.weight", v, d));
        this.identity = weights.value();
        this.pool = pool;
    }

    /**
     * Builds the block stack over the weights as stored, mapped or copied as {@link WeightStorage#AUTO} decides.
     *
     * @param threads kernel threads, including the caller's (≥ 1)
     * @throws IllegalArgumentException naming the tensor that is missing or has the wrong shape
     */
    public static FalconMambaModel create(MambaConfig config, WeightSource weights, int threads) {
        return create(config, weights, threads, Quantization.NONE);
    }

    /**
     * Builds the block stack, quantizing the projection matrices (in_proj, x_proj, dt_proj, out_proj and the
     * output head) to {@code quantization} at load into off-heap memory freed by {@link #close()}. Matrices whose
     * rows do not split into 32-weight blocks stay as stored; the embedding lookup always reads the original.
     *
     * @param threads kernel threads, including the caller's (≥ 1); quantizing runs on them too
     * @throws IllegalArgumentException naming the tensor that is missing or has the wrong shape
     */
    public static FalconMambaModel create(
            MambaConfig config, WeightSource weights, int threads, Quantization quantization) {
        return create(config, weights, threads, quantization, WeightStorage.AUTO);
    }

    /**
     * As {@link #create(MambaConfig, WeightSource, int, Quantization)}, with the projection matrices that are not
     * quantized read from the mapped files or copied into off-heap memory at load (faster decode, slower load, a
     * private copy of the weights), as {@code storage} decides; {@link WeightStorage#AUTO} is resolved here
     * against the weights' size.
     */
    public static FalconMambaModel create(
            MambaConfig config, WeightSource weights, int threads, Quantization quantization, WeightStorage storage) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(storage, "storage");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        ThreadPool pool = new ThreadPool(threads);
        ProjectionLoader q = new ProjectionLoader(quantization, storage.resolve(weights.byteSize()), pool, weights);
        try {
            return new FalconMambaModel(config, weights, pool, q);
        } catch (RuntimeException e) {
            pool.close();
            q.close();
            throw e;
        }
    }

    /** Builds the model with one kernel thread per available processor. */
    public static FalconMambaModel create(MambaConfig config, WeightSource weights) {
        return create(config, weights, Runtime.getRuntime().availableProcessors());
    }

    public MambaConfig config() {
        return config;
    }

    /** The block format the projections were quantized to at load ({@link Quantization#NONE}: as stored). */
    public Quantization quantization() {
        return projections.type();
    }

    /**
     * Whether the projection matrices are read from the mapped checkpoint or from a copy in memory (never
     * {@link WeightStorage#AUTO}: the choice it made).
     */
    public WeightStorage weightStorage() {
        return projections.storage();
    }

    /**
     * A hash of the config and of the tensors the model reads (names, types, shapes, their first and last bytes),
     * not of how they are stored: a quantized or in-memory load of one checkpoint has the identity of the mapped one.
     */
    public long identity() {
        return identity;
    }

    /**
     * The pages behind the matrices this model copied or quantized into memory at load; empty when it reads them
     * from the mapped checkpoint (whose pages the checkpoint reports).
     */
    public Optional<HugePages.Backing> weightPages() {
        return projections.pages();
    }

    /** Kernel threads (including the caller). */
    public int threads() {
        return pool.threads();
    }

    /**
     * Bits per float vector the kernels run at: the JVM's preferred width on this CPU (512 with AVX-512, 256 with
     * AVX2). Speed figures depend on it, so benchmarks report it.
     */
    public static int vectorBits() {
        return Convert.vectorBits();
    }

    /** Bytes of weight matrices read per decoded token (embedding row excluded). */
    public long weightBytesPerToken() {
        long sum = lmHead.byteSize();
        for (MambaBlock b : blocks) {
            sum += b.matrixBytes();
        }
        return sum;
    }

    /** A fresh zero state for one sequence. */
    public SequenceState newState() {
        return new SequenceState(config);
    }

    /** Restores a state saved with {@link SequenceState#toBytes()}, checked against this model's shape. */
    public SequenceState restoreState(byte[] bytes) {
        return SequenceState.fromBytes(bytes, config);
    }

    /**
     * Feeds a prompt on top of the state; returns the logits of its last position (the state's own buffer,
     * overwritten by the next call on that state).
     */
    public float[] prefill(SequenceState state, int[] tokens, PrefillMode mode) {
        run(state, tokens, mode, null);
        return state.logits;
    }

    /** Feeds a prompt on top of the state; returns new arrays with the logits of every position [T][vocab]. */
    public float[][] prefillAllLogits(SequenceState state, int[] tokens, PrefillMode mode) {
        float[][] all = new float[tokens.length][];
        run(state, tokens, mode, all);
        return all;
    }

    /** One decode step: feeds {@code token}, returns the state's logits buffer. */
    public float[] decode(SequenceState state, int token) {
        checkState(state);
        checkToken(token, 0);
        Workspace ws = workspace(state, 1);
        SequenceState[] one = ws.single;
        one[0] = state;
        ws.token[0] = token;
        forwardRows(ws, one, 1, ws.token, 0, 1, null, 0);
        return state.logits;
    }

    /**
     * One decode step for {@code count} sequences together: each weight is read once for all of them
     * (matrix × matrix), each state keeps its own conv window and SSM state. Fills each {@code states[i].logits()}.
     */
    public void decodeBatch(SequenceState[] states, int[] tokens, int count) {
        Objects.requireNonNull(states, "states");
        Objects.requireNonNull(tokens, "tokens");
        if (count < 0 || count > states.length || count > tokens.length) {
            throw new IllegalArgumentException("batch count " + count + " does not fit " + states.length
                    + " states and " + tokens.length + " tokens");
        }
        if (count == 0) {
            return;
        }
        for (int i = 0; i < count; i++) {
            checkState(states[i]);
            checkToken(tokens[i], i);
            for (int j = 0; j < i; j++) {
                if (states[j] == states[i]) {
                    throw new IllegalArgumentException(
                            "the same state appears twice in one batch (rows " + j + " and " + i + ")");
                }
            }
        }
        if (count == 1) {
            decode(states[0], tokens[0]);
            return;
        }
        Workspace ws = batchWorkspace.get();
        if (ws == null || ws.capacity < count) {
            ws = new Workspace(config, count);
            batchWorkspace.set(ws);
        }
        // Row t belongs to states[t]; states may be longer than count (finished sequences parked at the end).
        forwardRows(ws, states, count, tokens, 0, count, null, 0);
    }

    private void run(SequenceState state, int[] tokens, PrefillMode mode, float[][] allLogits) {
        checkState(state);
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(mode, "mode");
        if (tokens.length == 0) {
            throw new IllegalArgumentException("tokens must not be empty: nothing to prefill");
        }
        for (int i = 0; i < tokens.length; i++) {
            checkToken(tokens[i], i);
        }
        int chunk = switch (mode) {
            case PrefillMode.Parallel p -> tokens.length;
            case PrefillMode.Chunked c -> Math.min(c.chunkSize(), tokens.length);
        };
        Workspace ws = workspace(state, chunk);
        SequenceState[] one = ws.single;
        one[0] = state;
        for (int start = 0; start < tokens.length; start += chunk) {
            int rows = Math.min(chunk, tokens.length - start);
            forwardRows(ws, one, rows, tokens, start, rows, allLogits, start);
        }
    }

    /**
     * The forward pass over {@code rows} rows of tokens {@code tokens[from ..]}: one sequence's consecutive
     * tokens when {@code states.length == 1}, else one token per state. Logits are computed for the last row
     * (into its state) and, when {@code allLogits} is given, for every row into {@code allLogits[base + t]}.
     */
    private void forwardRows(
            Workspace ws,
            SequenceState[] states,
            int rows,
            int[] tokens,
            int from,
            int count,
            float[][] allLogits,
            int base) {
        int d = config.hiddenSize();
        int v = config.vocabSize();
        for (int t = 0; t < rows; t++) {
            embeddings.rowToFloats(tokens[from + t], ws.h, t * d);
        }
        for (int l = 0; l < blocks.length; l++) {
            blocks[l].forward(ws, rows, states, l, pool);
        }
        boolean perSequence = states.length > 1;
        // Final norm: every row that needs logits (all rows for a batch or when asked, else only the last).
        int first = (perSequence || allLogits != null) ? 0 : rows - 1;
        for (int t = first; t < rows; t++) {
            RmsNorm.apply(ws.h, t * d, d, normF, config.layerNormEpsilon(), ws.u, t * d);
        }
        int n = rows - first;
        float[] logits = ws.logits(n, v);
        MatrixProduct.multiply(lmHead, ws.u, first * d, d, n, logits, 0, v, pool);
        requireFiniteOutput(logits, n * v, v);
        if (allLogits != null) {
            for (int t = 0; t < n; t++) {
                float[] row = new float[v];
                System.arraycopy(logits, t * v, row, 0, v);
                allLogits[base + t] = row;
            }
        }
        if (perSequence) {
            for (int t = 0; t < rows; t++) {
                SequenceState s = states[t];
                System.arraycopy(logits, t * v, s.logits, 0, v);
                System.arraycopy(ws.u, t * d, s.hidden, 0, d);
                s.position++;
            }
        } else {
            SequenceState s = states[0];
            System.arraycopy(logits, (n - 1) * v, s.logits, 0, v);
            System.arraycopy(ws.u, (rows - 1) * d, s.hidden, 0, d);
            s.position += count;
        }
    }

    /**
     * Fails on NaN or infinity in the logits: finite weights and a state from a forward pass never give them, so
     * they mean corrupt weights or a restored state holding values no forward pass produces, and sampling from them
     * would be a silent stream of garbage. A pass over the logits is small beside the output projection.
     */
    private static void requireFiniteOutput(float[] logits, int count, int vocab) {
        for (int i = 0; i < count; i++) {
            if (!Float.isFinite(logits[i])) {
                throw new IllegalStateException("the model's output holds " + logits[i] + " (token id " + (i % vocab)
                        + "): its weights or its state hold values a forward pass cannot carry (corrupt?)");
            }
        }
    }

    private Workspace workspace(SequenceState state, int rows) {
        Workspace ws = state.workspace;
        if (ws != null && ws.capacity >= rows) {
            return ws;
        }
        ws = new Workspace(config, rows);
        if (Workspace.bytes(config, rows) <= CACHED_WORKSPACE_BYTES) {
            state.workspace = ws;
        }
        return ws;
    }

    private void checkState(SequenceState state) {
        Objects.requireNonNull(state, "state");
        if (!state.config.equals(config)) {
            throw new IllegalArgumentException("state belongs to a model of another shape: " + state.config);
        }
    }

    private void checkToken(int token, int position) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " at position " + position
                    + " is outside the vocabulary [0, " + config.vocabSize() + ")");
        }
    }

    /**
     * Stops the kernel threads and frees the quantized weights (if any). The stored weights belong to whoever
     * supplied them (the loader closes its files).
     */
    @Override
    public void close() {
        pool.close();
        projections.close();
    }
}
