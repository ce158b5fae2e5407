package io.falconmamba.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Settings both chat models take: the model (a directory, a Hugging Face repo id, or a loaded {@link FalconMamba}),
 * the default request parameters, the sampling seed, the state cache budget and the listeners.
 *
 * <p>Request parameters left unset here and in the request fall back to the checkpoint's generation_config.json.
 */
public abstract class FalconMambaModelBuilder<B extends FalconMambaModelBuilder<B>> {

    /** Default state cache budget: a few conversations of a 7B model (about 40 MiB of state each). */
    public static final long DEFAULT_CACHE_BYTES = 512L << 20;

    private FalconMamba model;
    private String pathOrRepoId;
    private LoadOptions loadOptions = LoadOptions.defaults();
    private String modelName;
    private final DefaultChatRequestParameters.Builder<?> parameters = ChatRequestParameters.builder();
    private ChatRequestParameters defaultRequestParameters;
    private OptionalLong seed = OptionalLong.empty();
    private long cacheBytes = DEFAULT_CACHE_BYTES;
    private List<ChatModelListener> listeners = List.of();

    FalconMambaModelBuilder() {}

    @SuppressWarnings("unchecked")
    B self() {
        return (B) this;
    }

    /** A model already loaded; the chat model does not close it. */
    public B model(FalconMamba model) {
        this.model = Objects.requireNonNull(model, "model");
        return self();
    }

    /** A model directory to load; the chat model closes it on {@code close()}. */
    public B modelPath(Path modelDir) {
        this.pathOrRepoId = Objects.requireNonNull(modelDir, "modelDir").toString();
        return self();
    }

    /** A local directory or a Hugging Face repo id found in the local cache (see {@link FalconMamba#load(String)}). */
    public B modelId(String pathOrRepoId) {
        this.pathOrRepoId = Objects.requireNonNull(pathOrRepoId, "pathOrRepoId");
        return self();
    }

    /** How {@link #modelPath}/{@link #modelId} load (threads, quantization, download). */
    public B loadOptions(LoadOptions options) {
        this.loadOptions = Objects.requireNonNull(options, "options");
        return self();
    }

    /** The name responses report and requests may name (default: the model directory's name). */
    public B modelName(String modelName) {
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        return self();
    }

    /** Sampling temperature; 0 decodes greedily. */
    public B temperature(Double temperature) {
        parameters.temperature(temperature);
        return self();
    }

    public B topP(Double topP) {
        parameters.topP(topP);
        return self();
    }

    public B topK(Integer topK) {
        parameters.topK(topK);
        return self();
    }

    public B maxOutputTokens(Integer maxOutputTokens) {
        parameters.maxOutputTokens(maxOutputTokens);
        return self();
    }

    /** Strings that end a reply (the reply keeps the one that matched). */
    public B stopSequences(List<String> stopSequences) {
        parameters.stopSequences(stopSequences);
        return self();
    }

    /** All default request parameters at once; overrides the single setters above. */
    public B defaultRequestParameters(ChatRequestParameters parameters) {
        this.defaultRequestParameters = parameters;
        return self();
    }

    /** A fixed sampling seed: the same request then gives the same reply. */
    public B seed(long seed) {
        this.seed = OptionalLong.of(seed);
        return self();
    }

    /** Bytes of recurrent states kept for conversations to continue (0 turns the cache off). */
    public B cacheBytes(long cacheBytes) {
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("cacheBytes must be >= 0, got " + cacheBytes);
        }
        this.cacheBytes = cacheBytes;
        return self();
    }

    public B listeners(List<ChatModelListener> listeners) {
        this.listeners = List.copyOf(listeners);
        return self();
    }

    List<ChatModelListener> listeners() {
        return listeners;
    }

    /** A repo id as given; otherwise the directory's name. */
    private String defaultName(FalconMamba fm) {
        if (pathOrRepoId != null && !java.nio.file.Files.isDirectory(Path.of(pathOrRepoId))) {
            return pathOrRepoId;
        }
        Path file = fm.directory().toAbsolutePath().normalize().getFileName();
        return file != null ? file.toString() : fm.directory().toString();
    }

    /** Loads the model if need be; the engine closes it only if it loaded it. */
    ChatEngine engine() {
        if (model != null && pathOrRepoId != null) {
            throw new IllegalStateException("give either model(...) or modelPath/modelId(...), not both");
        }
        if (model == null && pathOrRepoId == null) {
            throw new IllegalStateException("no model: give model(...), modelPath(...) or modelId(...)");
        }
        boolean owns = model == null;
        FalconMamba fm = owns ? FalconMamba.load(pathOrRepoId, loadOptions) : model;
        try {
            String name = modelName != null ? modelName : defaultName(fm);
            ChatRequestParameters defaults =
                    defaultRequestParameters != null ? defaultRequestParameters : parameters.build();
            defaults = ChatRequestParameters.builder().modelName(name).build().overrideWith(defaults);
            return new ChatEngine(fm, owns, cacheBytes, name, defaults, seed);
        } catch (RuntimeException e) {
            if (owns) {
                fm.close();
            }
            throw e;
        }
    }
}
