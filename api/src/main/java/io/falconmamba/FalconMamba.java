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
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

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
 * Thread-safe: several threads may generate at once, each call with its own state.
 */
public final class FalconMamba implements AutoCloseable {

    /** ChatML's end-of-turn marker. */
    private static final String END_OF_TURN = "<|im_end|>";

    /** Tokens per prefill progress report. */
    private static final int PROGRESS_STEP = 1024;

    private final Path directory;
    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final FalconMambaModel model;
    private final Tokenizer tokenizer;
    private final GenerationConfig defaults;
    private volatile boolean closed;

    private FalconMamba(
            Path directory,
            ModelConfig config,
            Checkpoint checkpoint,
            FalconMambaModel model,
            Tokenizer tokenizer,
            GenerationConfig defaults) {
        this.directory = directory;
        this.config = config;
        this.checkpoint = checkpoint;
        this.model = model;
        this.tokenizer = tokenizer;
        this.defaults = defaults;
    }

    /** Loads a model directory (config.json, safetensors weights, tokenizer.json) with default options. */
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
        Engine engine = Engine.open(modelDir, options);
        Tokenizer tokenizer = null;
        try {
            tokenizer = Tokenizer.fromDirectory(modelDir);
            GenerationConfig defaults = generationDefaults(modelDir, engine.config(), tokenizer);
            return new FalconMamba(modelDir, engine.config(), engine.checkpoint(), engine.model(), tokenizer, defaults);
        } catch (RuntimeException e) {
            engine.close();
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        }
    }

    /**
     * generation_config.json when present (Hugging Face's keys), with the eos id(s) of config.json or the
     * tokenizer as stop tokens when it names none.
     */
    private static GenerationConfig generationDefaults(Path dir, ModelConfig config, Tokenizer tokenizer) {
        GenerationConfig.Builder b = GenerationConfig.builder();
        Path file = dir.resolve("generation_config.json");
        boolean eosGiven = false;
        if (Files.exists(file)) {
            Map<String, Object> values;
            try {
                values = JsonFiles.readObject(file);
            } catch (IOException | RuntimeException e) {
                throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
            }
            try {
                b.applyHuggingFace(values);
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException(file + ": " + e.getMessage(), e);
            }
            eosGiven = values.get("eos_token_id") != null;
        }
        if (!eosGiven) {
            if (!config.eosTokenIds().isEmpty()) {
                b.stopTokenIds(config.eosTokenIds());
            } else if (tokenizer.eosTokenId().isPresent()) {
                b.stopTokenIds(tokenizer.eosTokenId().getAsInt());
            }
        }
        return b.build();
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
     * A reply ends at the template's end-of-turn token too: ChatML templates (falcon-mamba-7b-instruct) close a
     * turn with {@code <|im_end|>}, which need not be the checkpoint's eos token.
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
        if (configs.size() != prompts.size()) {
            throw new IllegalArgumentException("generateBatch needs one config per prompt: " + prompts.size()
                    + " prompts, " + configs.size() + " configs");
        }
        List<BatchRequest> requests = new ArrayList<>();
        List<TextStream> streams = new ArrayList<>();
        List<int[]> promptIds = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            GenerationConfig config = Objects.requireNonNull(configs.get(i), "config " + i);
            int[] ids = encodePrompt(Objects.requireNonNull(prompts.get(i), "prompt " + i));
            if (ids.length == 0) {
                throw new IllegalArgumentException("prompt " + i + " encodes to no tokens: give a non-empty prompt");
            }
            TextStream s = new TextStream(tokenizer, null, config.stopStrings());
            streams.add(s);
            promptIds.add(ids);
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
        checkpoint.close();
    }
}
