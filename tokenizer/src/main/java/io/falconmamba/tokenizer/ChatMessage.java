package io.falconmamba.tokenizer;

import java.util.Objects;

/**
 * One turn of a conversation, as chat templates see it: {@code message['role']} and
 * {@code message['content']} (also {@code message.role} / {@code message.content}).
 *
 * @param role    for example {@code "system"}, {@code "user"}, {@code "assistant"}
 * @param content the turn's text
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
