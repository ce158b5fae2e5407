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
 *
 * <p>With a {@link StateSpill}, entries evicted from memory go to disk instead of away, and a lookup whose longest
 * prefix is on disk loads it back into memory (a hit, like one from memory). A spilled file that turns out unusable
 * is a miss. Closing the cache closes its spill.
 */
public final class SessionCache implements AutoCloseable {

    /**
     * What {@link #longestPrefix} found: a session of its own holding the first {@code length} request tokens (or,
     * for an entry kept with {@link #put(int[], Session)}, their text).
     */
    public record Match(Session session, int length) {}

    /** Counters since the cache was made. */
    public record Stats(
            long hits, long misses, long insertions, long evictions, int entries, long bytes, long maxBytes) {}

    private final long maxBytes;
    /** The disk tier, or null. */
    private final StateSpill spill;
    /** Keyed by token sequence; access order, so iteration starts at the least recently used. */
    private final LinkedHashMap<Key, Session> entries = new LinkedHashMap<>(16, 0.75f, true);

    private long bytes;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private long insertions;
    private long evictions;

    /** A cache holding at most {@code maxBytes} bytes of sessions ({@code 0} keeps nothing). */
    public SessionCache(long maxBytes) {
        this(maxBytes, null);
    }

    /**
     * A cache holding at most {@code maxBytes} bytes of sessions in memory, evicting to {@code spill} (null for none),
     * which the cache then owns.
     */
    public SessionCache(long maxBytes, StateSpill spill) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must be >= 0, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
        this.spill = spill;
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
        return counted(find(tokens));
    }

    /**
     * Like {@link #longestPrefix}, for a caller that needs the state's logits current after feeding the rest of
     * {@code tokens}: an entry holding all of them whose last token is still pending does not serve (that token is
     * fed only together with further input), so then the longest entry holding all but the last token is returned.
     * Counts one hit or one miss, like any lookup.
     */
    public Match longestPrefixWithLogits(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        Match m = find(tokens);
        if (m != null && m.length() == tokens.length && m.session().hasPendingToken()) {
            m = find(Arrays.copyOf(tokens, tokens.length - 1));
        }
        return counted(m);
    }

    private Match counted(Match m) {
        (m == null ? misses : hits).incrementAndGet();
        return m;
    }

    /** The longest entry that is a prefix of {@code tokens}, as a copy; counts nothing. */
    private Match find(int[] tokens) {
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
        if (spill != null) {
            int longerThan = bestKey == null ? 0 : bestKey.ids.length;
            for (Key k; (k = spill.longestPrefix(tokens, longerThan)) != null; ) {
                Session loaded = spill.load(k);
                if (loaded != null) {
                    best = loaded;
                    bestKey = k;
                    long size = sizeOf(loaded);
                    if (size <= maxBytes) {
                        keep(k, loaded, size);
                    }
                    break;
                }
            }
        }
        if (best == null) {
            return null;
        }
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
        keep(new Key(tokens), session.fork(), size);
    }

    /**
     * Puts {@code stored} (a session nobody else mutates) in memory and evicts least recently used entries until the
     * budget holds; the evicted ones go to the spill, written outside the lock.
     */
    private void keep(Key key, Session stored, long size) {
        List<Map.Entry<Key, Session>> evicted = new ArrayList<>();
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
                evicted.add(Map.entry(e.getKey(), e.getValue()));
                it.remove();
                evictions++;
            }
        }
        if (spill != null) {
            for (Map.Entry<Key, Session> e : evicted) {
                spill.write(e.getKey(), e.getValue());
            }
        }
    }

    /** Drops every entry, in memory and on disk. */
    public void clear() {
        synchronized (this) {
            entries.clear();
            bytes = 0;
        }
        if (spill != null) {
            spill.clear();
        }
    }

    /** The disk tier's counters ({@link StateSpill.Stats#NONE} without one). */
    public StateSpill.Stats spillStats() {
        return spill == null ? StateSpill.Stats.NONE : spill.stats();
    }

    /** Closes the spill (deleting its files); the cache in memory stays usable without it. */
    @Override
    public void close() {
        if (spill != null) {
            spill.close();
        }
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
    static final class Key {
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
