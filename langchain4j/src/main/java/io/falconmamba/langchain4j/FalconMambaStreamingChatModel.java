package io.falconmamba.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * A LangChain4j {@link StreamingChatModel} over an in-process Falcon Mamba model; see {@link FalconMambaChatModel}
 * for the prompt, the state cache and what is refused.
 *
 * <p>Each request generates on the builder's executor (by default a new virtual thread). The handler gets
 * {@code onPartialResponse} with whole characters (UTF-8 sequences are never split), then exactly one of
 * {@code onCompleteResponse} or {@code onError}: refused requests, generation failures and exceptions thrown by
 * {@code onPartialResponse} all end in {@code onError}. {@link StreamingHandle#cancel()} (from the partial response
 * context) stops the generation after at most one more token, and no callback follows.
 *
 * <p>Thread-safe: concurrent requests run in parallel, each on its own recurrent state.
 */
public final class FalconMambaStreamingChatModel implements StreamingChatModel, AutoCloseable {

    private final ChatEngine engine;
    private final List<ChatModelListener> listeners;
    private final Executor executor;

    private FalconMambaStreamingChatModel(Builder builder) {
        this.engine = builder.engine();
        this.listeners = builder.listeners();
        this.executor = builder.executor;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Objects.requireNonNull(handler, "handler");
        GenerationConfig config;
        try {
            config = engine.validate(request);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        try {
            executor.execute(() -> stream(request, config, handler));
        } catch (RuntimeException e) {
            handler.onError(e);
        }
    }

    private void stream(ChatRequest request, GenerationConfig config, StreamingChatResponseHandler handler) {
        CancellationToken cancel = new CancellationToken();
        Handle handle = new Handle(cancel);
        PartialResponseContext context = new PartialResponseContext(handle);
        RuntimeException[] handlerFailure = {null};
        ChatResponse response;
        try {
            Completion c = engine.generate(
                    request,
                    config,
                    piece -> {
                        if (handlerFailure[0] != null || handle.isCancelled()) {
                            return;
                        }
                        try {
                            handler.onPartialResponse(new PartialResponse(piece), context);
                        } catch (RuntimeException e) {
                            // The handler cannot take more: stop generating and report it once.
                            handlerFailure[0] = e;
                            cancel.cancel();
                        }
                    },
                    cancel);
            response = engine.response(c);
        } catch (RuntimeException | Error e) {
            handler.onError(e);
            return;
        }
        if (handlerFailure[0] != null) {
            handler.onError(handlerFailure[0]);
        } else if (!handle.isCancelled()) {
            handler.onCompleteResponse(response);
        }
    }

    /** Cancellation by the caller, distinct from the engine stopping for a failed handler. */
    private static final class Handle implements StreamingHandle {
        private final CancellationToken token;
        private volatile boolean cancelled;

        Handle(CancellationToken token) {
            this.token = token;
        }

        @Override
        public void cancel() {
            cancelled = true;
            token.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
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

        private Executor executor =
                task -> Thread.ofVirtual().name("falcon-mamba-stream").start(task);

        private Builder() {}

        /** Where requests generate (default: a new virtual thread each). */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return self();
        }

        /** Loads the model (when given by path or id) and builds the streaming chat model. */
        public FalconMambaStreamingChatModel build() {
            return new FalconMambaStreamingChatModel(this);
        }
    }
}
