package io.falconmamba.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import java.util.Objects;

/**
 * LangChain4j's response metadata plus how many prompt tokens the model had to prefill: the token usage counts the
 * whole prompt, but a request that extends an earlier conversation continues its cached state and prefills only the
 * new tokens.
 */
public final class FalconMambaChatResponseMetadata extends ChatResponseMetadata {

    private final int prefilledTokens;

    private FalconMambaChatResponseMetadata(Builder builder) {
        super(builder);
        this.prefilledTokens = builder.prefilledTokens;
    }

    /** Prompt tokens fed to the model for this response (the rest came from the state cache). */
    public int prefilledTokens() {
        return prefilledTokens;
    }

    @Override
    public Builder toBuilder() {
        return ((Builder) toBuilder(new Builder())).prefilledTokens(prefilledTokens);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FalconMambaChatResponseMetadata m
                && super.equals(o)
                && prefilledTokens == m.prefilledTokens;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), prefilledTokens);
    }

    @Override
    public String toString() {
        return "FalconMambaChatResponseMetadata{" + "modelName=" + modelName() + ", tokenUsage=" + tokenUsage()
                + ", finishReason=" + finishReason() + ", prefilledTokens=" + prefilledTokens + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends ChatResponseMetadata.Builder<Builder> {

        private int prefilledTokens;

        public Builder prefilledTokens(int prefilledTokens) {
            this.prefilledTokens = prefilledTokens;
            return this;
        }

        @Override
        public FalconMambaChatResponseMetadata build() {
            return new FalconMambaChatResponseMetadata(this);
        }
    }
}
