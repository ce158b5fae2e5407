package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.testutil.Fixtures;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SessionCacheTest {

    static final FalconMambaModel MODEL = Fixtures.loadModel("tiny-falcon-mamba", 1);
    static final int[] PROMPT = {5, 17, 42, 99, 3, 250, 7, 11};

    static Session sessionOf(int[] ids) {
        Session s = new Session(MODEL);
        s.append(ids);
        return s;
    }

    static GenerationConfig greedy(int n) {
        return GenerationConfig.builder()
                .doSample(false)
                .maxNewTokens(n)
                .stopTokenIds()
                .build();
    }

    @Test
    void continuingACachedPrefixGivesTheSameTokensAsAFullPrefill() {
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(sessionOf(Arrays.copyOf(PROMPT, 5)));

        SessionCache.Match m = cache.longestPrefix(PROMPT);
        assertNotNull(m);
        assertEquals(5, m.length());
        m.session().append(Arrays.copyOfRange(PROMPT, 5, PROMPT.length));
        int[] fromCache = m.session().generate(greedy(12)).tokens();

        int[] fromScratch = sessionOf(PROMPT).generate(greedy(12)).tokens();
        assertArrayEquals(fromScratch, fromCache);
    }

    @Test
    void theLongestPrefixWinsAndNonPrefixesAreIgnored() {
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(sessionOf(Arrays.copyOf(PROMPT, 2)));
        cache.put(sessionOf(Arrays.copyOf(PROMPT, 6)));
        cache.put(sessionOf(new int[] {5, 17, 42, 1})); // diverges at the fourth token
        int[] longer = Arrays.copyOf(PROMPT, 9);
        assertEquals(6, cache.longestPrefix(longer).length());
        assertEquals(2, cache.longestPrefix(new int[] {5, 17, 43}).length());
        assertNull(cache.longestPrefix(new int[] {6}));
        assertEquals(2, cache.stats().hits());
        assertEquals(1, cache.stats().misses());
    }

    @Test
    void aWholeSequenceWithItsLastTokenPendingFallsBackToAShorterPrefixCountedOnce() {
        Session reply = sessionOf(PROMPT);
        reply.generate(greedy(4));
        assertTrue(reply.hasPendingToken());
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(sessionOf(PROMPT));
        cache.put(reply);
        int[] all = reply.tokens();

        // The reply holds all of it, but its last token is pending: the prompt's state (logits current) serves.
        SessionCache.Match m = cache.longestPrefixWithLogits(all);
        assertEquals(PROMPT.length, m.length());
        assertFalse(m.session().hasPendingToken());
        // Longer input is fed together with the pending token: the reply serves.
        assertEquals(
                all.length,
                cache.longestPrefixWithLogits(concat(all, new int[] {8})).length());
        assertNull(cache.longestPrefixWithLogits(new int[] {6}));
        assertEquals(2, cache.stats().hits(), "one hit per lookup");
        assertEquals(1, cache.stats().misses(), "one miss per lookup");
    }

    @Test
    void aSessionWithAPendingTokenContinuesExactly() {
        // After generation the last sampled token is pending (not yet fed): the cached copy must carry it.
        Session s = sessionOf(PROMPT);
        s.generate(greedy(4));
        assertTrue(s.hasPendingToken());
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(s);
        int[] next = {8, 9, 10};
        int[] all = concat(s.tokens(), next);

        SessionCache.Match m = cache.longestPrefix(all);
        assertEquals(s.length(), m.length());
        m.session().append(next);
        int[] viaCache = m.session().generate(greedy(6)).tokens();
        s.append(next);
        assertArrayEquals(s.generate(greedy(6)).tokens(), viaCache);
    }

    @Test
    void anEntryKeptUnderOtherIdsIsFoundByThemAndNotByItsOwn() {
        // A state reached through ids {5, 17, 42} kept under the ids {5, 300} that name the same text.
        Session s = sessionOf(new int[] {5, 17, 42});
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(new int[] {5, 300}, s);
        SessionCache.Match m = cache.longestPrefix(new int[] {5, 300, 8});
        assertNotNull(m);
        assertEquals(2, m.length());
        assertArrayEquals(new int[] {5, 17, 42}, m.session().tokens(), "the stored session keeps its own history");
        assertNull(cache.longestPrefix(new int[] {5, 17, 42, 8}));
        assertThrows(NullPointerException.class, () -> cache.put(null, s));
    }

    @Test
    void returnedSessionsAreIndependentCopies() {
        SessionCache cache = new SessionCache(1L << 30);
        cache.put(sessionOf(PROMPT));
        Session a = cache.longestPrefix(PROMPT).session();
        int[] first = a.generate(greedy(5)).tokens();
        Session b = cache.longestPrefix(PROMPT).session();
        assertEquals(PROMPT.length, b.length(), "generating from a copy must not change the cached entry");
        assertArrayEquals(first, b.generate(greedy(5)).tokens());
    }

    @Test
    void evictsTheLeastRecentlyUsedToStayWithinBudget() {
        long one = SessionCache.sizeOf(sessionOf(new int[] {1}));
        SessionCache cache = new SessionCache(2 * one + one / 2); // room for two one-token sessions
        cache.put(sessionOf(new int[] {1}));
        cache.put(sessionOf(new int[] {2}));
        cache.longestPrefix(new int[] {1, 5}); // touches {1}: {2} is now least recently used
        cache.put(sessionOf(new int[] {3}));
        SessionCache.Stats st = cache.stats();
        assertEquals(2, st.entries());
        assertEquals(1, st.evictions());
        assertTrue(st.bytes() <= st.maxBytes());
        assertNull(cache.longestPrefix(new int[] {2}));
        assertNotNull(cache.longestPrefix(new int[] {1}));
        assertNotNull(cache.longestPrefix(new int[] {3}));
    }

    @Test
    void aZeroBudgetKeepsNothingAndBadArgumentsAreRefused() {
        SessionCache cache = new SessionCache(0);
        cache.put(sessionOf(PROMPT));
        assertEquals(0, cache.stats().entries());
        assertThrows(IllegalArgumentException.class, () -> new SessionCache(-1));
        assertThrows(NullPointerException.class, () -> cache.longestPrefix(null));
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
