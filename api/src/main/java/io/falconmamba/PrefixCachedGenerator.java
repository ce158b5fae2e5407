package io.falconmamba;

import io.falconmamba.core.generation.CancellationToken;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.GenerationResult;
import io.falconmamba.core.generation.Session;
import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.core.generation.StopReason;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Generation for callers that resend a whole conversation with every request (chat APIs, LangChain4j's chat
 * memory): each request starts from the cached state of the longest token prefix it shares with an earlier request,
 * so a new turn prefills only its new tokens. The states at the end of each prompt and at the end of each reply (for
 * {@link #chat}: of each closed assistant turn) are kept in a {@link SessionCache} bounded in bytes.
 *
 * <p>A request's first turn, and any request whose prefix comes from a plain prompt, generates exactly what
 * {@link FalconMamba#generate} and {@link FalconMamba#chat} give. A later chat turn continues the state that holds the
 * ids the model generated for the earlier replies, as {@link ChatSession} does; it differs from a fresh
 * {@link FalconMamba#chat} of the whole conversation only where a generated reply is not the tokenizer's own
 * encoding of its text.
 *
 * <p>Thread-safe: concurrent requests run in parallel, each on its own copy of a cached state.
 */
public final class PrefixCachedGenerator {

    private final FalconMamba model;
    private final SessionCache cache;

    /** A generator over {@code model} keeping at most {@code maxCacheBytes} bytes of states (0 caches nothing). */
    public PrefixCachedGenerator(FalconMamba model, long maxCacheBytes) {
        this(model, new SessionCache(maxCacheBytes));
    }

    /**
     * A generator over {@code model} keeping its states in {@code cache}, for instance one with a
     * {@link io.falconmamba.core.generation.StateSpill} disk tier; the caller keeps owning the cache (and closes it).
     */
    public PrefixCachedGenerator(FalconMamba model, SessionCache cache) {
        this.model = Objects.requireNonNull(model, "model");
        this.cache = Objects.requireNonNull(cache, "cache");
    }

    public FalconMamba model() {
        return model;
    }

    /** Hits, misses, entries and bytes of the state cache. */
    public SessionCache.Stats cacheStats() {
        return cache.stats();
    }

    /** Drops every cached state. */
    public void clearCache() {
        cache.clear();
    }

    /**
     * One reply to a conversation through the checkpoint's chat template, as {@link FalconMamba#chat} gives it
     * (the template's end-of-turn token stops it too).
     *
     * <p>The turn is then closed as the template renders it in the next request (the reply, then what the template
     * writes after it, such as {@code <|im_end|>}): that tail is fed and the state is kept under the encoding of the
     * closed conversation. The next request, which resends the conversation with the reply, then prefills only its
     * new messages, even when the generated ids are not the tokenizer's own encoding of the reply text; the state then
     * holds the ids the model generated, as in a {@link ChatSession}.
     */
    public Completion chat(
            List<ChatMessage> messages, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(config, "config");
        Tokenizer tokenizer = model.tokenizer();
        String prompt = tokenizer.applyChatTemplate(messages, true);
        Turn turn = run(tokenizer.encode(prompt, false), model.chatConfig(config), listener, cancel);
        Completion c = turn.completion();
        if (c.stopReason() != StopReason.CANCELLED) {
            closeTurn(messages, prompt, c, turn.session());
        }
        return c;
    }

    /** Feeds what the template writes after the reply and keeps the state under the closed conversation's ids. */
    private void closeTurn(List<ChatMessage> messages, String prompt, Completion c, Session session) {
        Tokenizer tokenizer = model.tokenizer();
        List<ChatMessage> withReply = new ArrayList<>(messages);
        withReply.add(ChatMessage.assistant(c.text()));
        String closed = tokenizer.applyChatTemplate(withReply, false);
        String generated = prompt + tokenizer.decode(c.ids(), false);
        if (!closed.startsWith(generated)) {
            // The template does not render the reply as generated (it drops a special token the reply ended with,
            // or rewrites earlier turns): the state at the end of the prompt is what the next request can reuse.
            return;
        }
        int[] tail = tokenizer.encode(closed.substring(generated.length()), false);
        if (tail.length > 0) {
            session.append(tail);
        }
        cache.put(tokenizer.encode(closed, false), session);
    }
    /**
     * One reply to a conversation, for callers that take any checkpoint: through the chat template when it has one
     * ({@link #chat}); a checkpoint without one (a base model) continues the messages' texts, concatenated in order
     * ({@link #generate}).
     */
    public Completion reply(
            List<ChatMessage> messages, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(messages, "messages");
        if (model.tokenizer().chatTemplate().isPresent()) {
            return chat(messages, config, listener, cancel);
        }
        StringBuilder prompt = new StringBuilder();
        for (ChatMessage m : messages) {
            prompt.append(m.content());
        }
        return generate(prompt.toString(), config, listener, cancel);
    }

    /** Continues a plain-text prompt, encoded as {@link FalconMamba#generate} encodes it. */
    public Completion generate(
            String prompt, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Objects.requireNonNull(prompt, "prompt");
        return generateIds(model.encodePrompt(prompt), config, listener, cancel);
    }

    /**
     * Generates from prompt ids: forks the cached state of their longest cached prefix, prefills the rest, caches the
     * state at the end of the prompt, generates, and caches the state at the end of the reply.
     * {@link Completion#prefilledTokens()} tells how many prompt tokens were fed.
     */
    public Completion generateIds(
            int[] promptIds, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        Turn turn = run(promptIds, config, listener, cancel);
        Completion c = turn.completion();
        int[] consumed = Arrays.copyOf(promptIds, promptIds.length + c.ids().length);
        System.arraycopy(c.ids(), 0, consumed, promptIds.length, c.ids().length);
        cache.put(consumed, turn.session());
        return c;
    }

    /** A generation and the session it leaves (the reply's last token pending). */
    private record Turn(Completion completion, Session session) {}

    /** Continues the longest cached prefix of the prompt, caching the state at the end of the prompt. */
    private Turn run(int[] promptIds, GenerationConfig config, TextListener listener, CancellationToken cancel) {
        model.ensureOpen();
        Objects.requireNonNull(promptIds, "promptIds");
        Objects.requireNonNull(config, "config");
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens: give a non-empty prompt");
        }
        config = model.samplable(config); // never sample rows the tokenizer cannot decode
        SessionCache.Match match = cache.longestPrefix(promptIds);
        Session session;
        int reused;
        if (match == null) {
            session = new Session(model.model(), config.prefillMode());
            reused = 0;
        } else {
            session = match.session();
            session.prefillMode(config.prefillMode());
            reused = match.length();
        }
        if (reused < promptIds.length) {
            session.append(Arrays.copyOfRange(promptIds, reused, promptIds.length));
            cache.put(promptIds, session);
        }
        TextStream stream = new TextStream(model.tokenizer(), listener, config.stopStrings());
        GenerationResult r = session.generate(config, stream, stream, cancel);
        stream.finish();
        Completion c =
                new Completion(stream.text(), promptIds, r.tokens(), r.stopReason(), r, promptIds.length - reused);
        return new Turn(c, session);
    }
}
