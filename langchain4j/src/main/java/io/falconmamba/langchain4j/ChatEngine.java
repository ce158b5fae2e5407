package io.falconmamba.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.PrefixCachedGenerator;
import io.falconmamba.RequestParameters;
import io.falconmamba.TextListener;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * What both chat models share: LangChain4j requests in, falcon-mamba generations through a
 * {@link PrefixCachedGenerator} out. Decides which requests are refused and how LangChain4j's messages, parameters
 * and results map to the engine's.
 */
final class ChatEngine implements AutoCloseable {

    private final FalconMamba model;
    /** Whether {@link #close()} closes the model (it was loaded for this engine). */
    private final boolean ownsModel;

    private final PrefixCachedGenerator generator;
    private final String modelName;
    private final ChatRequestParameters defaults;
    private final OptionalLong seed;

    ChatEngine(
            FalconMamba model,
            boolean ownsModel,
            long cacheBytes,
            String modelName,
            ChatRequestParameters defaults,
            OptionalLong seed) {
        this.model = model;
        this.ownsModel = ownsModel;
        this.generator = new PrefixCachedGenerator(model, cacheBytes);
        this.modelName = modelName;
        this.defaults = defaults;
        this.seed = seed;
    }

    FalconMamba model() {
        return model;
    }

    ChatRequestParameters defaults() {
        return defaults;
    }

    /**
     * Refuses what the engine cannot do, before any work: tools, non-text content, JSON response formats, penalties
     * it does not implement, another model's name, and parameters out of range.
     *
     * @return the generation settings of the request
     */
    GenerationConfig validate(ChatRequest request) {
        ChatRequestParameters p = request.parameters() == null ? defaults : defaults.overrideWith(request.parameters());
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("falcon-mamba models do not support tool calling: the request gives "
                    + p.toolSpecifications().size() + " tool specification(s)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw new UnsupportedFeatureException(
                    "falcon-mamba models do not support tool calling: tool choice REQUIRED cannot be met");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("falcon-mamba models do not support a JSON response format"
                    + (p.responseFormat().jsonSchema() != null ? " (JSON schema)" : "")
                    + ": nothing constrains the output to JSON; ask for JSON in the prompt instead");
        }
        if (p.frequencyPenalty() != null) {
            throw new UnsupportedFeatureException("falcon-mamba models do not support frequencyPenalty");
        }
        if (p.presencePenalty() != null) {
            throw new UnsupportedFeatureException("falcon-mamba models do not support presencePenalty");
        }
        if (p.modelName() != null && !p.modelName().equals(modelName)) {
            throw new InvalidRequestException(
                    "this chat model serves \"" + modelName + "\"; the request names \"" + p.modelName() + "\"");
        }
        for (ChatMessage m : request.messages()) {
            checkMessage(m);
        }
        return config(p);
    }

    private static void checkMessage(ChatMessage message) {
        switch (message) {
            case SystemMessage s -> {}
            case UserMessage u -> {
                for (Content c : u.contents()) {
                    if (!(c instanceof TextContent)) {
                        throw new UnsupportedFeatureException("falcon-mamba models take text only: a user message has "
                                + c.type().name().toLowerCase(java.util.Locale.ROOT) + " content");
                    }
                }
            }
            case AiMessage a -> {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException(
                            "falcon-mamba models do not support tool calling: an AI message has tool execution requests");
                }
            }
            default ->
                throw new UnsupportedFeatureException(
                        "falcon-mamba models do not support " + message.type() + " messages");
        }
    }

    /** The request's parameters over the checkpoint's generation defaults. */
    private GenerationConfig config(ChatRequestParameters p) {
        RequestParameters r = new RequestParameters(
                p.temperature(),
                p.topP(),
                p.topK(),
                p.maxOutputTokens(),
                p.stopSequences(),
                seed.isPresent() ? seed.getAsLong() : null);
        try {
            return r.applyTo(model.defaults());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
    }

    /** Generates the reply ({@link PrefixCachedGenerator#reply}: the chat template, or a base model's continuation). */
    Completion generate(ChatRequest request, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        List<io.falconmamba.tokenizer.ChatMessage> messages = new ArrayList<>();
        for (ChatMessage m : request.messages()) {
            messages.add(toEngine(m));
        }
        return generator.reply(messages, config, listener, cancel);
    }

    private static io.falconmamba.tokenizer.ChatMessage toEngine(ChatMessage message) {
        return switch (message) {
            case SystemMessage s -> io.falconmamba.tokenizer.ChatMessage.system(s.text());
            case UserMessage u -> io.falconmamba.tokenizer.ChatMessage.user(text(u));
            case AiMessage a -> io.falconmamba.tokenizer.ChatMessage.assistant(a.text() == null ? "" : a.text());
            default -> throw new UnsupportedFeatureException("unsupported message type " + message.type());
        };
    }

    private static String text(UserMessage u) {
        if (u.hasSingleText()) {
            return u.singleText();
        }
        StringBuilder sb = new StringBuilder();
        for (Content c : u.contents()) {
            sb.append(((TextContent) c).text());
        }
        return sb.toString();
    }

    ChatResponse response(Completion c) {
        FinishReason finish = switch (c.stopReason()) {
            case EOS, STOP_SEQUENCE -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(c.text()))
                .metadata(FalconMambaChatResponseMetadata.builder()
                        .modelName(modelName)
                        .tokenUsage(new TokenUsage(c.promptIds().length, c.ids().length))
                        .finishReason(finish)
                        .prefilledTokens(c.prefilledTokens())
                        .build())
                .build();
    }

    @Override
    public void close() {
        if (ownsModel) {
            model.close();
        }
    }
}
