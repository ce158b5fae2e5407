package io.falconmamba.springai;

import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.PrefixCachedGenerator;
import io.falconmamba.RequestParameters;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import reactor.core.publisher.Flux;

/**
 * A Spring AI {@link ChatModel} (call and stream) over an in-process Falcon Mamba model: no server, no network.
 *
 * <p>Messages go through the checkpoint's chat template (a checkpoint without one continues the messages' texts,
 * concatenated). A prompt that extends an earlier one, as a chat memory advisor resends the conversation, continues
 * the cached recurrent state of their shared prefix and prefills only its new tokens (response metadata key
 * {@value #PREFILLED_TOKENS}). Options a prompt leaves unset come from {@link Builder#defaultOptions}, then from the
 * checkpoint's generation_config.json; temperature 0 decodes greedily.
 *
 * <p>Refused with {@link UnsupportedOperationException}: tools (callbacks or names), media, tool calls and tool
 * responses in the conversation, frequency and presence penalties. {@link IllegalArgumentException} for another model's
 * name or an option out of range.
 *
 * <p>{@link #stream} emits one response per piece of text (whole characters), then a last one with empty text, the
 * finish reason and the usage; errors end the flux, and cancelling the subscription stops the generation. Thread-safe:
 * concurrent prompts run in parallel, each on its own recurrent state.
 */
public final class FalconMambaChatModel implements ChatModel, AutoCloseable {

    /** Response metadata key: prompt tokens the model had to read (the rest came from the state cache). */
    public static final String PREFILLED_TOKENS = "prefilledTokens";

    /** Default state cache budget: a few conversations of a 7B model (about 40 MiB of state each). */
    public static final long DEFAULT_CACHE_BYTES = 512L << 20;

    private final FalconMamba model;
    private final boolean ownsModel;
    private final PrefixCachedGenerator generator;
    private final String modelName;
    private final ChatOptions defaults;
    private final Long seed;
    private final Executor executor;

    private FalconMambaChatModel(Builder b, FalconMamba model, boolean ownsModel) {
        this.model = model;
        this.ownsModel = ownsModel;
        this.generator = new PrefixCachedGenerator(model, b.cacheBytes);
        this.modelName = b.modelName != null ? b.modelName : b.defaultName(model);
        this.defaults = b.defaultOptions != null
                ? b.defaultOptions.copy()
                : ChatOptions.builder().build();
        this.seed = b.seed;
        this.executor = b.executor;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse call(Prompt prompt) {
        Request r = validate(prompt);
        return response(generator.reply(r.messages(), r.config(), null, null));
    }

    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        return Flux.create(sink -> {
            Request r;
            try {
                r = validate(prompt);
            } catch (RuntimeException e) {
                sink.error(e);
                return;
            }
            CancellationToken cancel = new CancellationToken();
            sink.onDispose(cancel::cancel);
            try {
                executor.execute(() -> {
                    try {
                        Completion c = generator.reply(
                                r.messages(),
                                r.config(),
                                piece -> sink.next(
                                        new ChatResponse(List.of(new Generation(new AssistantMessage(piece))))),
                                cancel);
                        ChatResponse last = response(c);
                        sink.next(new ChatResponse(
                                List.of(new Generation(
                                        new AssistantMessage(""),
                                        last.getResult().getMetadata())),
                                last.getMetadata()));
                        sink.complete();
                    } catch (RuntimeException | Error e) {
                        sink.error(e);
                    }
                });
            } catch (RuntimeException e) {
                sink.error(e);
            }
        });
    }

    @Override
    public ChatOptions getDefaultOptions() {
        return defaults.copy();
    }

    /** The model this chat model generates with. */
    public FalconMamba model() {
        return model;
    }

    /** Closes the model if this chat model loaded it (not one given to {@link Builder#model}). */
    @Override
    public void close() {
        if (ownsModel) {
            model.close();
        }
    }

    private record Request(List<io.falconmamba.tokenizer.ChatMessage> messages, GenerationConfig config) {}

    /** Refuses what the engine cannot do, before any work; maps messages and options. */
    private Request validate(Prompt prompt) {
        Objects.requireNonNull(prompt, "prompt");
        ChatOptions o = prompt.getOptions();
        if (o instanceof ToolCallingChatOptions t
                && ((t.getToolCallbacks() != null && !t.getToolCallbacks().isEmpty())
                        || (t.getToolNames() != null && !t.getToolNames().isEmpty()))) {
            throw new UnsupportedOperationException("falcon-mamba models do not support tool calling: the prompt gives "
                    + (t.getToolCallbacks() == null ? 0 : t.getToolCallbacks().size()) + " tool callback(s) and "
                    + (t.getToolNames() == null ? 0 : t.getToolNames().size()) + " tool name(s)");
        }
        if (option(o, ChatOptions::getFrequencyPenalty) != null) {
            throw new UnsupportedOperationException("falcon-mamba models do not support frequencyPenalty");
        }
        if (option(o, ChatOptions::getPresencePenalty) != null) {
            throw new UnsupportedOperationException("falcon-mamba models do not support presencePenalty");
        }
        String requested = option(o, ChatOptions::getModel);
        if (requested != null && !requested.equals(modelName)) {
            throw new IllegalArgumentException(
                    "this chat model serves \"" + modelName + "\"; the prompt names \"" + requested + "\"");
        }
        List<io.falconmamba.tokenizer.ChatMessage> messages = new ArrayList<>();
        for (Message m : prompt.getInstructions()) {
            messages.add(toEngine(m));
        }
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("the prompt has no messages");
        }
        RequestParameters p = new RequestParameters(
                option(o, ChatOptions::getTemperature),
                option(o, ChatOptions::getTopP),
                option(o, ChatOptions::getTopK),
                option(o, ChatOptions::getMaxTokens),
                option(o, ChatOptions::getStopSequences),
                seed);
        return new Request(messages, p.applyTo(model.defaults()));
    }

    /** The prompt's option, else the default one. */
    private <T> T option(ChatOptions prompt, Function<ChatOptions, T> getter) {
        T value = prompt == null ? null : getter.apply(prompt);
        return value != null ? value : getter.apply(defaults);
    }

    private static io.falconmamba.tokenizer.ChatMessage toEngine(Message message) {
        return switch (message) {
            case SystemMessage s -> io.falconmamba.tokenizer.ChatMessage.system(text(s.getText()));
            case UserMessage u -> {
                if (!u.getMedia().isEmpty()) {
                    throw new UnsupportedOperationException("falcon-mamba models take text only: a user message has "
                            + u.getMedia().size() + " media attachment(s)");
                }
                yield io.falconmamba.tokenizer.ChatMessage.user(text(u.getText()));
            }
            case AssistantMessage a -> {
                if (a.hasToolCalls()) {
                    throw new UnsupportedOperationException(
                            "falcon-mamba models do not support tool calling: an assistant message has tool calls");
                }
                yield io.falconmamba.tokenizer.ChatMessage.assistant(text(a.getText()));
            }
            default ->
                throw new UnsupportedOperationException(
                        "falcon-mamba models do not support " + message.getMessageType() + " messages");
        };
    }

    private static String text(String s) {
        return s == null ? "" : s;
    }

    private ChatResponse response(Completion c) {
        String finish = switch (c.stopReason()) {
            case EOS, STOP_SEQUENCE -> "STOP";
            case LENGTH -> "LENGTH";
            case CANCELLED -> "CANCELLED";
        };
        Generation generation = new Generation(
                new AssistantMessage(c.text()),
                ChatGenerationMetadata.builder().finishReason(finish).build());
        ChatResponseMetadata metadata = ChatResponseMetadata.builder()
                .model(modelName)
                .usage(new DefaultUsage(c.promptIds().length, c.ids().length))
                .keyValue(PREFILLED_TOKENS, c.prefilledTokens())
                .build();
        return new ChatResponse(List.of(generation), metadata);
    }

    /** The model (a directory, a repo id or a loaded {@link FalconMamba}), default options, seed and cache budget. */
    public static final class Builder {

        private FalconMamba model;
        private String pathOrRepoId;
        private LoadOptions loadOptions = LoadOptions.defaults();
        private String modelName;
        private ChatOptions defaultOptions;
        private Long seed;
        private long cacheBytes = DEFAULT_CACHE_BYTES;
        private Executor executor =
                task -> Thread.ofVirtual().name("falcon-mamba-stream").start(task);

        private Builder() {}

        /** A model already loaded; the chat model does not close it. */
        public Builder model(FalconMamba model) {
            this.model = Objects.requireNonNull(model, "model");
            return this;
        }

        /** A model directory to load; the chat model closes it on {@code close()}. */
        public Builder modelPath(Path modelDir) {
            this.pathOrRepoId = Objects.requireNonNull(modelDir, "modelDir").toString();
            return this;
        }

        /** A local directory or a Hugging Face repo id found in the local cache. */
        public Builder modelId(String pathOrRepoId) {
            this.pathOrRepoId = Objects.requireNonNull(pathOrRepoId, "pathOrRepoId");
            return this;
        }

        public Builder loadOptions(LoadOptions options) {
            this.loadOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /** The name responses report and prompts may name (default: the repo id, or the directory's name). */
        public Builder modelName(String modelName) {
            this.modelName = Objects.requireNonNull(modelName, "modelName");
            return this;
        }

        /** Options for what a prompt leaves unset (temperature, top-p, top-k, max tokens, stop sequences). */
        public Builder defaultOptions(ChatOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /** A fixed sampling seed: the same prompt then gives the same reply. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Bytes of recurrent states kept for conversations to continue (0 turns the cache off). */
        public Builder cacheBytes(long cacheBytes) {
            if (cacheBytes < 0) {
                throw new IllegalArgumentException("cacheBytes must be >= 0, got " + cacheBytes);
            }
            this.cacheBytes = cacheBytes;
            return this;
        }

        /** Where streamed prompts generate (default: a new virtual thread each). */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        private String defaultName(FalconMamba fm) {
            if (pathOrRepoId != null && !Files.isDirectory(Path.of(pathOrRepoId))) {
                return pathOrRepoId;
            }
            Path file = fm.directory().toAbsolutePath().normalize().getFileName();
            return file != null ? file.toString() : fm.directory().toString();
        }

        /** Loads the model (when given by path or id) and builds the chat model. */
        public FalconMambaChatModel build() {
            if (model != null && pathOrRepoId != null) {
                throw new IllegalStateException("give either model(...) or modelPath/modelId(...), not both");
            }
            if (model == null && pathOrRepoId == null) {
                throw new IllegalStateException("no model: give model(...), modelPath(...) or modelId(...)");
            }
            boolean owns = model == null;
            FalconMamba fm = owns ? FalconMamba.load(pathOrRepoId, loadOptions) : model;
            try {
                return new FalconMambaChatModel(this, fm, owns);
            } catch (RuntimeException e) {
                if (owns) {
                    fm.close();
                }
                throw e;
            }
        }
    }
}
