package io.falconmamba.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import java.util.List;

/**
 * A LangChain4j {@link ChatModel} over an in-process Falcon Mamba model: no server, no network.
 *
 * <pre>{@code
 * ChatModel model = FalconMambaChatModel.builder()
 *         .modelId("tiiuae/falcon-mamba-7b-instruct")
 *         .temperature(0.0)
 *         .build();
 * }</pre>
 *
 * <p>Messages go through the checkpoint's chat template (a checkpoint without one continues the messages' texts,
 * concatenated). A request that extends an earlier one, as chat memory resends the whole conversation each turn,
 * continues the cached recurrent state of their shared prefix and prefills only its new tokens
 * ({@link FalconMambaChatResponseMetadata#prefilledTokens()}). Tool specifications, non-text content, JSON response
 * formats and frequency/presence penalties are refused with {@link dev.langchain4j.exception.UnsupportedFeatureException}.
 *
 * <p>Thread-safe: concurrent requests run in parallel, each on its own recurrent state.
 */
public final class FalconMambaChatModel implements ChatModel, AutoCloseable {

    private final ChatEngine engine;
    private final List<ChatModelListener> listeners;

    private FalconMambaChatModel(Builder builder) {
        this.engine = builder.engine();
        this.listeners = builder.listeners();
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        GenerationConfig config = engine.validate(request);
        Completion c = engine.generate(request, config, null, null);
        return engine.response(c);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return engine.defaults();
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** The model this chat model generates with. */
    public FalconMamba model() {
        return engine.model();
    }

    /** Closes the model if this chat model loaded it (not one given to {@link Builder#model}). */
    @Override
    public void close() {
        engine.close();
    }

    public static final class Builder extends FalconMambaModelBuilder<Builder> {

        private Builder() {}

        /** Loads the model (when given by path or id) and builds the chat model. */
        public FalconMambaChatModel build() {
            return new FalconMambaChatModel(this);
        }
    }
}
