package io.falconmamba;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.BatchGenerator;
import io.falconmamba.core.generation.BatchRequest;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.Generator;
import io.falconmamba.core.generation.Session;
import io.falconmamba.hub.ModelResolver;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.loader.WeightFiles;
import io.falconmamba.loader.gguf.GgufWeights;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * A loaded model ready to generate text: the mapped weights, the tokenizer, the chat template and the
 * generation defaults of one checkpoint directory. Close it to unmap the weights; calls after close fail.
 *
 * <pre>{@code
 * try (FalconMamba fm = FalconMamba.load(Path.of("models/falcon-mamba-7b"))) {
 *     Completion c = fm.generate("The capital of France is", fm.defaults().toBuilder().maxNewTokens(20).build());
 *     System.out.println(c.text());
 * }
 * }</pre>
 *
 * <p>Threads: a {@code FalconMamba} is shared freely. Any number of threads may call {@link #generate},
 * {@link #generateIds}, {@link #chat} and {@link #generateBatch} at once (each call has its own state and sampler;
 * the kernel threads are shared, so concurrent calls divide the cores), and {@link #tokenizer()}, {@link #model()},
 * {@link #defaults()} and the {@link GenerationConfig}s are safe to share too. What belongs to one thread at a time:
 * a {@link ChatSession}, a {@link Session} or {@link io.falconmamba.core.SequenceState} of the token-level API, and
 * a {@link TextListener}, which is called on the generating thread. A {@link CancellationToken} may be cancelled from
 * any thread. {@link #close()} must not race with calls in flight.
 */
public final class FalconMamba implements AutoCloseable {

    /** ChatML's end-of-turn marker. */
    private static final String END_OF_TURN = "<|im_end|>";

    /** Tokens per prefill progress report. */
    private static final int PROGRESS_STEP = 1024;

    private final Path directory;
    private final ModelConfig config;
    private final WeightFiles weights;
    private final FalconMambaModel model;
    private final Tokenizer tokenizer;
    private final GenerationConfig defaults;
    private volatile boolean closed;

    private FalconMamba(
            Path directory,
            ModelConfig config,
            WeightFiles weights,
            FalconMambaModel model,
            Tokenizer tokenizer,
            GenerationConfig defaults) {
        this.directory = directory;
        this.config = config;
        this.weights = weights;
        this.model = model;
        this.tokenizer = tokenizer;
        this.defaults = defaults;
    }

    /**
     * Loads a model directory (config.json, safetensors weights, tokenizer.json), or a GGUF file alone (weights,
     * hyper-parameters, tokenizer and chat template in one file), with default options.
     */
    public static FalconMamba load(Path modelDir) {
        return load(modelDir, LoadOptions.defaults());
    }

    /**
     * Loads a local directory, or a Hugging Face repo id ({@code tiiuae/falcon-mamba-7b}) found in the local
     * Hugging Face cache. Nothing is downloaded unless {@code options} allow it.
     */
    public static FalconMamba load(String pathOrRepoId) {
        return load(pathOrRepoId, LoadOptions.defaults());
    }

    public static FalconMamba load(String pathOrRepoId, LoadOptions options) {
        Objects.requireNonNull(options, "options");
        return load(ModelResolver.resolve(pathOrRepoId, options.resolve()), options);
    }

    public static FalconMamba load(Path modelDir, LoadOptions options) {
        // A directory's tokenizer is read while the engine loads: each is a noticeable share of a short run.
        CompletableFuture<Tokenizer> dirTokenizer =
                Files.isDirectory(modelDir) ? loadInBackground(() -> Tokenizer.fromDirectory(modelDir)) : null;
        Engine engine;
        try {
            engine = Engine.open(modelDir, options);
        } catch (RuntimeException | Error e) {
            closeWhenLoaded(dirTokenizer);
            throw e;
        }
        Tokenizer tokenizer = null;
        try {
            tokenizer = engine.weights() instanceof GgufWeights gguf
                    ? Tokenizer.fromGguf(GgufVocabularies.read(gguf.file()))
                    : join(dirTokenizer);
            GenerationConfig defaults = generationDefaults(engine, tokenizer);
            return new FalconMamba(modelDir, engine.config(), engine.weights(), engine.model(), tokenizer, defaults);
        } catch (RuntimeException | Error e) {
            engine.close();
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        }
    }

    private static CompletableFuture<Tokenizer> loadInBackground(Supplier<Tokenizer> load) {
        return CompletableFuture.supplyAsync(
                load,
                task -> Thread.ofPlatform()
                        .daemon()
                        .name("falcon-mamba-tokenizer-load")
                        .start(task));
    }

    /** The tokenizer, or what its loading threw. */
    private static Tokenizer join(CompletableFuture<Tokenizer> tokenizer) {
        try {
            return tokenizer.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    /** Closes a tokenizer nobody will use once its loading ends (the engine failed). */
    private static void closeWhenLoaded(CompletableFuture<Tokenizer> tokenizer) {
        if (tokenizer != null) {
            tokenizer.whenComplete((t, e) -> {
                if (t != null) {
                    t.close();
                }
            });
        }
    }

    /** The engine's defaults, with the tokenizer's eos as the stop token when neither config names one. */
    private static GenerationConfig generationDefaults(Engine engine, Tokenizer tokenizer) {
        GenerationConfig d = engine.generationDefaults();
        if (d.stopTokenIds().isEmpty()
                && !engine.namesEos()
                && tokenizer.eosTokenId().isPresent()) {
            return d.toBuilder().stopTokenIds(tokenizer.eosTokenId().getAsInt()).build();
        }
        return d;
    }

    /** The generation settings this checkpoint ships (generation_config.json), to start a config from. */
    public GenerationConfig defaults() {
        return defaults;
    }

    public ModelConfig config() {
        return config;
    }

    /** The directory the model was loaded from (a cache snapshot for a repo id). */
    public Path directory() {
        return directory;
    }

    /** The engine, for token-level work (prefill, decode, states). */
    public FalconMambaModel model() {
        ensureOpen();
        return model;
    }

    public Tokenizer tokenizer() {
        ensureOpen();
        return tokenizer;
    }

    /** Generates from a prompt with the checkpoint's defaults. */
    public Completion generate(String prompt) {
        return generate(prompt, defaults, null, null);
    }

    public Completion generate(String prompt, GenerationConfig config) {
        return generate(prompt, config, null, null);
    }

    /** Generates, streaming text pieces to {@code listener} as they become final. */
    public Completion generate(String prompt, GenerationConfig config, TextListener listener) {
        return generate(prompt, config, listener, null);
    }

    /**
     * Generates from a prompt: encoded as Hugging Face does by default (with the tokenizer's special tokens),
     * prefilled with the config's prefill mode, then decoded until a stop rule fires.
     */
    public Completion generate(
            String prompt, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(prompt, "prompt");
        return generateIds(encodePrompt(prompt), config, listener, cancel);
    }

    /** Generates from prompt ids (for callers that tokenize themselves). */
    public Completion generateIds(
            int[] promptIds, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        return generateIds(promptIds, config, listener, cancel, null);
    }

    /**
     * As {@link #generateIds(int[], GenerationConfig, TextListener, CancellationToken)}, reporting prefill progress
     * (tokens fed so far, total) to {@code prefillProgress} chunk by chunk, for long prompts.
     */
    public Completion generateIds(
            int[] promptIds,
            GenerationConfig config,
            TextListener listener,
            CancellationToken cancel,
            PrefillProgress prefillProgress) {
        ensureOpen();
        Objects.requireNonNull(promptIds, "promptIds");
        Objects.requireNonNull(config, "config");
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens: give a non-empty prompt");
        }
        config = samplable(config);
        TextStream stream = new TextStream(tokenizer, listener, config.stopStrings());
        GenerationResult r;
        if (prefillProgress == null) {
            r = Generator.generate(model, promptIds, config, stream, stream, cancel);
        } else {
            // The same computation as Generator.generate, with the prompt fed in reported steps.
            Session session = new Session(model, config.prefillMode());
            int step = Math.max(
                    PROGRESS_STEP,
                    config.prefillMode() instanceof PrefillMode.Chunked c ? c.chunkSize() : promptIds.length);
            for (int from = 0; from < promptIds.length; from += step) {
                if (cancel != null && cancel.isCancelled()) {
                    break;
                }
                int to = Math.min(promptIds.length, from + step);
                session.append(java.util.Arrays.copyOfRange(promptIds, from, to));
                prefillProgress.onProgress(to, promptIds.length);
            }
            r = session.generate(config, stream, stream, cancel);
        }
        stream.finish();
        return new Completion(stream.text(), promptIds, r.tokens(), r.stopReason(), r);
    }

    /** One reply to a conversation, through the checkpoint's chat template (with the generation prompt). */
    public Completion chat(List<ChatMessage> messages, GenerationConfig config) {
        return chat(messages, config, null);
    }

    public Completion chat(List<ChatMessage> messages, GenerationConfig config, TextListener listener) {
        ensureOpen();
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(config, "config");
        int[] ids = tokenizer.encodeChat(messages, true);
        return generateIds(ids, chatConfig(config), listener, null);
    }

    /**
     * The settings a chat reply generates with: {@code config} plus the template's end-of-turn token as a stop
     * token. ChatML templates (falcon-mamba-7b-instruct) close a turn with {@code <|im_end|>}, which need not be
     * the checkpoint's eos token. For callers that encode conversations themselves
     * ({@link Tokenizer#encodeChat}) and generate from ids.
     */
    public GenerationConfig chatConfig(GenerationConfig config) {
        OptionalInt endOfTurn = tokenizer
                .chatTemplate()
                .filter(t -> t.source().contains(END_OF_TURN))
                .flatMap(t -> {
                    OptionalInt id = tokenizer.tokenToId(END_OF_TURN);
                    return id.isPresent() ? java.util.Optional.of(id.getAsInt()) : java.util.Optional.empty();
                })
                .map(OptionalInt::of)
                .orElse(OptionalInt.empty());
        if (endOfTurn.isEmpty() || config.isStopToken(endOfTurn.getAsInt())) {
            return config;
        }
        return config.toBuilder().addStopTokenId(endOfTurn.getAsInt()).build();
    }

    /**
     * {@code config} with {@link GenerationConfig#vocabLimit()} set to the tokenizer's size when it is unset and the
     * model has rows the tokenizer does not name (a padded vocabulary): those ids decode to nothing, so they are
     * never sampled. A limit the caller set (the model's vocabulary size keeps every row) is left alone.
     */
    public GenerationConfig samplable(GenerationConfig config) {
        int rows = model.config().vocabSize();
        if (config.vocabLimit() != 0 || tokenizer.vocabSize() >= rows) {
            return config;
        }
        return config.toBuilder().vocabLimit(tokenizer.vocabSize()).build();
    }

    /** Generates for several prompts together: each decode step reads every weight once for the whole batch. */
    public List<Completion> generateBatch(List<String> prompts, GenerationConfig config) {
        Objects.requireNonNull(prompts, "prompts");
        Objects.requireNonNull(config, "config");
        return generateBatch(prompts, java.util.Collections.nCopies(prompts.size(), config));
    }

    /**
     * Generates for several prompts together, each with its own settings ({@code configs.get(i)} for
     * {@code prompts.get(i)}): the same results as one {@link #generate(String, GenerationConfig)} call per prompt.
     */
    public List<Completion> generateBatch(List<String> prompts, List<GenerationConfig> configs) {
        ensureOpen();
        Objects.requireNonNull(prompts, "prompts");
        Objects.requireNonNull(configs, "configs");
        List<int[]> promptIds = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            promptIds.add(encodePrompt(Objects.requireNonNull(prompts.get(i), "prompt " + i)));
        }
        return generateBatchIds(promptIds, configs);
    }

    /**
     * As {@link #generateBatch(List, List)} from prompt ids (for callers that tokenize themselves, or encode
     * conversations with {@link Tokenizer#encodeChat} and {@link #chatConfig}).
     */
    public List<Completion> generateBatchIds(List<int[]> promptIds, List<GenerationConfig> configs) {
        ensureOpen();
        Objects.requireNonNull(promptIds, "promptIds");
        Objects.requireNonNull(configs, "configs");
        if (configs.size() != promptIds.size()) {
            throw new IllegalArgumentException("a batch needs one config per prompt: " + promptIds.size() + " prompts, "
                    + configs.size() + " configs");
        }
        List<BatchRequest> requests = new ArrayList<>();
        List<TextStream> streams = new ArrayList<>();
        for (int i = 0; i < promptIds.size(); i++) {
            GenerationConfig config = samplable(Objects.requireNonNull(configs.get(i), "config " + i));
            int[] ids = Objects.requireNonNull(promptIds.get(i), "prompt " + i);
            if (ids.length == 0) {
                throw new IllegalArgumentException("prompt " + i + " encodes to no tokens: give a non-empty prompt");
            }
            TextStream s = new TextStream(tokenizer, null, config.stopStrings());
            streams.add(s);
            requests.add(new BatchRequest(ids, config, s, s, null));
        }
        List<GenerationResult> results = BatchGenerator.generate(model, requests);
        List<Completion> out = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            streams.get(i).finish();
            GenerationResult r = results.get(i);
            out.add(new Completion(streams.get(i).text(), promptIds.get(i), r.tokens(), r.stopReason(), r));
        }
        return out;
    }

    /** A conversation that keeps its recurrent state between turns: each turn costs only its new tokens. */
    public ChatSession newSession() {
        ensureOpen();
        return new ChatSession(this);
    }

    /** Restores a session saved with {@link ChatSession#snapshot()}. */
    public ChatSession restoreSession(byte[] snapshot) {
        ensureOpen();
        return ChatSession.restore(this, snapshot);
    }

    /** A prompt's ids as {@link #generate(String, GenerationConfig)} encodes them (with the special tokens). */
    public int[] encodePrompt(String prompt) {
        ensureOpen();
        return tokenizer.encode(prompt, true);
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("model " + directory + " is closed");
        }
    }

    /** Unmaps the weights and releases the tokenizer; later calls throw {@link IllegalStateException}. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        model.close();
        tokenizer.close();
        weights.close();
    }
}
