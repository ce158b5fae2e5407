package io.falconmamba.core.generation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sessions kept by their token sequence, so that a request which extends an earlier sequence (the next turn of a
 * chat that resends its whole history, a prompt that shares a system prompt) starts from the stored state and
 * prefills only its new tokens.
 *
 * <p>A recurrent state cannot be rewound: only an entry whose tokens are a <em>prefix</em> of the request can be
 * continued, and the longest such entry wins. Entries are independent copies ({@link Session#fork()}), both on
 * the way in and on the way out, so callers may generate from what {@link #longestPrefix} returns.
 *
 * <p>Bounded by bytes (recurrent state, logits and token ids of every entry); the least recently used entries go
 * first. A session larger than the whole budget is not kept. Thread-safe: lookups and insertions are serialised
 * on the cache, and the copies are made outside the caller's own sessions.
 */
public final class SessionCache {

    /**
     * What {@link #longestPrefix} found: a session of its own holding the first {@code length} request tokens (or,
     * for an entry kept with {@link #put(int[], Session)}, their text).
     */
    public record Match(Session session, int length) {}

    /** Counters since the cache was made. */
    public record Stats(
            long hits, long misses, long insertions, long evictions, int entries, long bytes, long maxBytes) {}

    private final long maxBytes;
    /** Keyed by token sequence; access order, so iteration starts at the least recently used. */
    private final LinkedHashMap<Key, Session> entries = new LinkedHashMap<>(16, 0.75f, true);

    private long bytes;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private long insertions;
    private long evictions;

    /** A cache holding at most {@code maxBytes} bytes of sessions ({@code 0} keeps nothing). */
    public SessionCache(long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must be >= 0, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /**
     * Bytes a session takes here: its recurrent state, the last logits and hidden vector, the token history
     * (ids, and one flag per vocabulary entry for the repetition penalty).
     */
    public static long sizeOf(Session session) {
        var config = session.model().config();
        return config.stateBytesPerSequence()
                + 4L * (config.vocabSize() + config.hiddenSize())
                + config.vocabSize()
                + 8L * session.length();
    }

    /**
     * The longest entry whose tokens are a prefix of {@code tokens} (possibly all of them), as an independent copy
     * that may be continued, or {@code null} when no entry is a prefix.
     */
    public Match longestPrefix(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        Session best = null;
        Key bestKey = null;
        synchronized (this) {
            for (Map.Entry<Key, Session> e : entries.entrySet()) {
                Key k = e.getKey();
                if (k.ids.length <= tokens.length
                        && (bestKey == null || k.ids.length > bestKey.ids.length)
                        && k.isPrefixOf(tokens)) {
                    bestKey = k;
                    best = e.getValue();
                }
            }
            if (bestKey != null) {
                entries.get(bestKey); // mark as recently used
            }
        }
        if (best == null) {
            misses.incrementAndGet();
            return null;
        }
        hits.incrementAndGet();
        // Stored sessions are never mutated, so forking outside the lock is safe.
        return new Match(best.fork(), bestKey.ids.length);
    }

    /**
     * Keeps a copy of {@code session} under its current tokens (replacing an entry with the same tokens), then
     * evicts least recently used entries until the cache fits its budget. An empty session is not kept.
     */
    public void put(Session session) {
        Objects.requireNonNull(session, "session");
        store(session.tokens(), session);
    }

    /**
     * Keeps a copy of {@code session} under {@code tokens} rather than its own ids: for a state that has consumed the
     * same text as {@code tokens} through other ids, such as a generated reply whose ids are not the tokenizer's
     * encoding of its text, so that a request encoding that text from scratch continues it.
     */
    public void put(int[] tokens, Session session) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(session, "session");
        store(tokens.clone(), session);
    }

    private void store(int[] tokens, Session session) {
        if (tokens.length == 0 || session.length() == 0) {
            return;
        }
        long size = sizeOf(session);
        if (size > maxBytes) {
            return;
        }
        Session stored = session.fork();
        Key key = new Key(tokens);
        synchronized (this) {
            Session old = entries.put(key, stored);
            if (old != null) {
                bytes -= sizeOf(old);
            }
            bytes += size;
            insertions++;
            Iterator<Map.Entry<Key, Session>> it = entries.entrySet().iterator();
            while (bytes > maxBytes && it.hasNext()) {
                Map.Entry<Key, Session> e = it.next();
                if (e.getKey().equals(key)) {
                    continue;
                }
                bytes -= sizeOf(e.getValue());
                it.remove();
                evictions++;
            }
        }
    }

    /** Drops every entry. */
    public synchronized void clear() {
        entries.clear();
        bytes = 0;
    }

    /** The token sequences held, least recently used first (for tests and diagnostics). */
    public synchronized List<int[]> keys() {
        List<int[]> out = new ArrayList<>(entries.size());
        for (Key k : entries.keySet()) {
            out.add(k.ids.clone());
        }
        return out;
    }

    public synchronized Stats stats() {
        return new Stats(hits.get(), misses.get(), insertions, evictions, entries.size(), bytes, maxBytes);
    }

    /** A token sequence as a map key. */
    private static final class Key {
        final int[] ids;
        final int hash;

        Key(int[] ids) {
            this.ids = ids;
            this.hash = Arrays.hashCode(ids);
        }

        boolean isPrefixOf(int[] tokens) {
            return Arrays.equals(ids, 0, ids.length, tokens, 0, ids.length);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && hash == k.hash && Arrays.equals(ids, k.ids);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
