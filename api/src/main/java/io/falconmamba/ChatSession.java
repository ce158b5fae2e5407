package io.falconmamba;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.Session;
import io.falconmamba.tokenizer.ChatMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * A conversation (or a plain text continuation) that keeps its recurrent state between turns, so a turn
 * costs only its new tokens, never a re-prefill of the history.
 *
 * <p>Chat turns go through the checkpoint's chat template: the whole conversation is rendered, and only the
 * text after what the state has already seen is encoded and fed. Should a template rewrite earlier turns (so
 * the new rendering no longer starts with what was fed), the session starts over from the full rendering.
 * Not thread-safe: one conversation, one thread at a time.
 */
public final class ChatSession {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAGIC = 0x464D4353; // "FMCS"
    private static final int VERSION = 2;
    /** Magic, version, CRC32C of everything after the header, conversation length. */
    private static final int HEADER_BYTES = 16;

    private final FalconMamba owner;
    private Session session;
    private final List<ChatMessage> messages = new ArrayList<>();
    /** The text equivalent of every token the session holds: what a new rendering must start with. */
    private final StringBuilder fedText = new StringBuilder();
    /** A turn failed part-way: the state no longer matches {@link #fedText}; the next rendering starts over. */
    private boolean stale;

    ChatSession(FalconMamba owner) {
        this.owner = owner;
        this.session = new Session(owner.model());
    }

    private ChatSession(FalconMamba owner, Session session, List<ChatMessage> messages, String fedText) {
        this.owner = owner;
        this.session = session;
        this.messages.addAll(messages);
        this.fedText.append(fedText);
    }

    /** The conversation so far (user and assistant turns, and any system message). */
    public List<ChatMessage> messages() {
        return List.copyOf(messages);
    }

    /** Tokens the session holds. */
    public int length() {
        return session.length();
    }

    /** Adds a message without generating (e.g. a system prompt, to prefill once and snapshot). */
    public void addMessage(ChatMessage message) {
        Objects.requireNonNull(message, "message");
        messages.add(message);
        feedRendering(false);
    }

    /** Sends a user message and generates the assistant's reply, which joins the conversation. */
    public Completion send(String userMessage, GenerationConfig config) {
        return send(userMessage, config, null, null);
    }

    public Completion send(
            String userMessage, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(userMessage, "userMessage");
        Objects.requireNonNull(config, "config");
        owner.ensureOpen();
        messages.add(ChatMessage.user(userMessage));
        Completion c;
        try {
            int[] fed = feedRendering(true);
            c = generateFromState(fed, owner.chatConfig(config), listener, cancel);
        } catch (RuntimeException | Error e) {
            // Leave the conversation as it was; the state may hold part of this turn, so the next turn starts
            // over from the full rendering.
            messages.remove(messages.size() - 1);
            stale = true;
            throw e;
        }
        messages.add(ChatMessage.assistant(c.text()));
        return c;
    }

    /** Plain continuation (no template): appends text to the sequence. */
    public void append(String text) {
        Objects.requireNonNull(text, "text");
        owner.ensureOpen();
        int[] ids = owner.tokenizer().encode(text, session.length() == 0);
        if (ids.length > 0) {
            session.append(ids);
            fedText.append(text);
        }
    }

    /** Plain continuation: generates from the end of the sequence. */
    public Completion generate(GenerationConfig config) {
        return generate(config, null, null);
    }

    /** Plain continuation, streaming text pieces to {@code listener} as they become final. */
    public Completion generate(GenerationConfig config, TextListener listener) {
        return generate(config, listener, null);
    }

    /** Plain continuation: generates from the end of the sequence. */
    public Completion generate(GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(config, "config");
        owner.ensureOpen();
        return generateFromState(new int[0], config, listener, cancel);
    }

    /** An independent copy: both continue from here on their own. */
    public ChatSession fork() {
        owner.ensureOpen();
        ChatSession copy = new ChatSession(owner, session.fork(), messages, fedText.toString());
        copy.stale = stale;
        return copy;
    }

    /** Back to an empty conversation. */
    public void reset() {
        owner.ensureOpen();
        session = new Session(owner.model());
        messages.clear();
        fedText.setLength(0);
        stale = false;
    }

    /**
     * The whole session as bytes, for {@link FalconMamba#restoreSession}: magic {@code FMCS}, format version, a CRC32C
     * of the rest, the conversation (JSON) and the {@link Session#snapshot()} (state, token history, model identity).
     */
    public byte[] snapshot() {
        owner.ensureOpen();
        ObjectNode meta = JSON.createObjectNode();
        ArrayNode arr = meta.putArray("messages");
        for (ChatMessage m : messages) {
            arr.addObject().put("role", m.role()).put("content", m.content());
        }
        meta.put("fed_text", fedText.toString());
        if (stale) {
            meta.put("stale", true);
        }
        byte[] json = meta.toString().getBytes(StandardCharsets.UTF_8);
        byte[] state = session.snapshot();
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + json.length + state.length)
                .putInt(MAGIC)
                .putInt(VERSION)
                .putInt(0)
                .putInt(json.length)
                .put(json)
                .put(state);
        b.putInt(8, crc(b.array()));
        return b.array();
    }

    /** CRC32C of the conversation length and everything after it. */
    private static int crc(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 12, bytes.length - 12);
        return (int) crc.getValue();
    }

    static ChatSession restore(FalconMamba owner, byte[] bytes) {
        Objects.requireNonNull(bytes, "snapshot");
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (bytes.length < 8) {
            throw new IllegalArgumentException("chat session snapshot is truncated: " + bytes.length + " bytes");
        }
        if (b.getInt() != MAGIC) {
            throw new IllegalArgumentException("not a falcon-mamba chat session snapshot (bad magic)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new IllegalArgumentException(
                    "chat session snapshot version " + version + " is not supported (expected " + VERSION + ")");
        }
        if (bytes.length < HEADER_BYTES) {
            throw new IllegalArgumentException("chat session snapshot is truncated: " + bytes.length + " bytes");
        }
        int recorded = b.getInt();
        if (recorded != crc(bytes)) {
            throw new IllegalArgumentException(
                    "chat session snapshot is corrupt or truncated: checksum mismatch (CRC32C)");
        }
        int jsonLen = b.getInt();
        if (jsonLen < 0 || jsonLen > b.remaining()) {
            throw new IllegalArgumentException("chat session snapshot is truncated");
        }
        byte[] json = new byte[jsonLen];
        b.get(json);
        byte[] state = new byte[b.remaining()];
        b.get(state);
        List<ChatMessage> messages = new ArrayList<>();
        String fed;
        boolean stale;
        try {
            JsonNode meta = JSON.readTree(json);
            for (JsonNode m : meta.get("messages")) {
                messages.add(
                        new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
            fed = meta.get("fed_text").asText();
            stale = meta.path("stale").asBoolean(false);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("chat session snapshot has a corrupt header: " + e.getMessage(), e);
        }
        ChatSession restored = new ChatSession(owner, Session.restore(owner.model(), state), messages, fed);
        restored.stale = stale;
        return restored;
    }

    /**
     * Renders the conversation and feeds the part the state has not seen; returns the ids fed.
     * Starts over when the rendering does not extend what was fed.
     */
    private int[] feedRendering(boolean addGenerationPrompt) {
        String rendered = owner.tokenizer().applyChatTemplate(messages, addGenerationPrompt);
        String fresh;
        if (!stale && rendered.startsWith(fedText.toString())) {
            fresh = rendered.substring(fedText.length());
        } else {
            session = new Session(owner.model());
            fedText.setLength(0);
            fresh = rendered;
            stale = false;
        }
        int[] ids = owner.tokenizer().encode(fresh, false);
        if (ids.length > 0) {
            session.append(ids);
        }
        fedText.append(fresh);
        return ids;
    }

    private Completion generateFromState(
            int[] fedIds, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        config = owner.samplable(config);
        TextStream stream = new TextStream(owner.tokenizer(), listener, config.stopStrings());
        GenerationResult r = session.generate(config, stream, stream, cancel);
        stream.finish();
        // What the state now holds, as text with special tokens, so the next rendering can be matched against it.
        fedText.append(owner.tokenizer().decode(r.tokens(), false));
        return new Completion(stream.text(), fedIds, r.tokens(), r.stopReason(), r);
    }
}
