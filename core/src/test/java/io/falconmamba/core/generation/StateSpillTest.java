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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk tier of the session cache: what memory evicts comes back from disk intact, or not at all. */
class StateSpillTest {

    static final FalconMambaModel MODEL = SessionCacheTest.MODEL;
    static final int[] PROMPT = SessionCacheTest.PROMPT;

    @TempDir
    Path dir;

    static Session sessionOf(int[] ids) {
        return SessionCacheTest.sessionOf(ids);
    }

    /** A memory tier with room for one session of {@code ids.length} tokens, spilling into {@code dir}. */
    SessionCache cacheForOne(int[] ids, long spillBytes) throws IOException {
        long one = SessionCache.sizeOf(sessionOf(ids));
        return new SessionCache(one + one / 2, StateSpill.open(dir, spillBytes, MODEL));
    }

    List<Path> stateFiles() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(StateSpill.SUFFIX)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void anEvictedStateComesBackFromDiskAndContinuesLikeAFullPrefill() throws IOException {
        try (SessionCache cache = cacheForOne(PROMPT, 1L << 30)) {
            cache.put(sessionOf(Arrays.copyOf(PROMPT, 5)));
            cache.put(sessionOf(new int[] {9, 9, 9, 9, 9})); // evicts the first to disk
            assertEquals(1, cache.spillStats().spilled());
            assertEquals(1, stateFiles().size());

            SessionCache.Match m = cache.longestPrefix(PROMPT);
            assertNotNull(m);
            assertEquals(5, m.length());
            assertEquals(1, cache.spillStats().loaded());
            assertEquals(1, cache.stats().hits());
            m.session().append(Arrays.copyOfRange(PROMPT, 5, PROMPT.length));
            int[] fromSpill = m.session().generate(SessionCacheTest.greedy(12)).tokens();
            assertArrayEquals(
                    sessionOf(PROMPT).generate(SessionCacheTest.greedy(12)).tokens(), fromSpill);
            // Loading it back into memory evicted the other one to disk; the loaded file is gone.
            assertEquals(2, cache.spillStats().spilled());
            assertEquals(1, stateFiles().size());
        }
    }

    @Test
    void aReplyWithItsLastTokenPendingSurvivesTheRoundTrip() throws IOException {
        Session original = sessionOf(PROMPT);
        original.generate(SessionCacheTest.greedy(4));
        assertTrue(original.hasPendingToken());
        try (SessionCache cache = cacheForOne(original.tokens(), 1L << 30)) {
            cache.put(original);
            cache.put(sessionOf(new int[] {9, 9, 9}));
            assertEquals(1, cache.spillStats().spilled());
            SessionCache.Match m = cache.longestPrefix(original.tokens());
            assertEquals(original.length(), m.length());
            assertTrue(m.session().hasPendingToken());
            assertArrayEquals(
                    original.fork().generate(SessionCacheTest.greedy(8)).tokens(),
                    m.session().generate(SessionCacheTest.greedy(8)).tokens());
        }
    }

    @Test
    void aCorruptFileIsAMissAndIsDeleted() throws IOException {
        try (SessionCache cache = cacheForOne(PROMPT, 1L << 30)) {
            cache.put(sessionOf(Arrays.copyOf(PROMPT, 5)));
            cache.put(sessionOf(new int[] {9, 9, 9, 9, 9}));
            Path file = stateFiles().getFirst();
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length / 2] ^= 0x10;
            Files.write(file, bytes);

            assertNull(cache.longestPrefix(PROMPT));
            assertEquals(1, cache.stats().misses());
            assertEquals(1, cache.spillStats().rejected());
            assertEquals(0, cache.spillStats().loaded());
            assertFalse(Files.exists(file));
            assertEquals(0, cache.spillStats().files());
        }
    }

    @Test
    void aTruncatedFileIsAMissAndAShorterPrefixOnDiskIsUsedInstead() throws IOException {
        long one = SessionCache.sizeOf(sessionOf(PROMPT));
        try (SessionCache cache = new SessionCache(one + one / 2, StateSpill.open(dir, 1L << 30, MODEL))) {
            cache.put(sessionOf(Arrays.copyOf(PROMPT, 3)));
            cache.put(sessionOf(Arrays.copyOf(PROMPT, 6)));
            cache.put(sessionOf(new int[] {9})); // both prefixes are on disk now
            assertEquals(2, stateFiles().size());
            Path longer = stateFiles().stream()
                    .max((a, b) -> Long.compare(a.toFile().length(), b.toFile().length()))
                    .orElseThrow();
            byte[] bytes = Files.readAllBytes(longer);
            Files.write(longer, Arrays.copyOf(bytes, bytes.length - 7));

            SessionCache.Match m = cache.longestPrefix(PROMPT);
            assertEquals(3, m.length());
            assertEquals(1, cache.spillStats().rejected());
            m.session().append(Arrays.copyOfRange(PROMPT, 3, PROMPT.length));
            assertArrayEquals(
                    sessionOf(PROMPT).generate(SessionCacheTest.greedy(6)).tokens(),
                    m.session().generate(SessionCacheTest.greedy(6)).tokens());
        }
    }

    @Test
    void aStateOfAnotherModelIsRejected() throws IOException {
        FalconMambaModel other = Fixtures.loadModel("tiny-mamba-bf16-odd", 1);
        assertTrue(other.identity() != MODEL.identity());
        long one = SessionCache.sizeOf(sessionOf(PROMPT));
        // The spill is for the other model, the sessions are of MODEL: the files carry MODEL's identity.
        try (SessionCache cache = new SessionCache(one + one / 2, StateSpill.open(dir, 1L << 30, other))) {
            cache.put(sessionOf(Arrays.copyOf(PROMPT, 5)));
            cache.put(sessionOf(new int[] {9, 9, 9, 9, 9}));
            assertEquals(1, cache.spillStats().spilled());
            assertNull(cache.longestPrefix(PROMPT));
            assertEquals(1, cache.spillStats().rejected());
        } finally {
            other.close();
        }
    }

    @Test
    void theDiskBudgetIsRespectedLeastRecentlyUsedFirst() throws IOException {
        int[] probe = {1, 2, 3, 4};
        long fileBytes;
        try (SessionCache probeCache = cacheForOne(probe, 1L << 30)) {
            probeCache.put(sessionOf(probe));
            probeCache.put(sessionOf(new int[] {4, 3, 2, 1}));
            fileBytes = probeCache.spillStats().bytes();
        }
        assertTrue(fileBytes > 0);
        try (SessionCache cache = cacheForOne(probe, 2 * fileBytes + fileBytes / 2)) {
            for (int i = 1; i <= 5; i++) {
                cache.put(sessionOf(new int[] {i, i, i, i}));
            }
            // Sessions 1..4 were evicted from memory in that order; the disk holds two, the two most recent.
            StateSpill.Stats st = cache.spillStats();
            assertEquals(4, st.spilled());
            assertEquals(2, st.evictions());
            assertEquals(2, st.files());
            assertEquals(2, stateFiles().size());
            assertTrue(st.bytes() <= st.maxBytes());
            assertNull(cache.longestPrefix(new int[] {1, 1, 1, 1, 7}));
            assertNull(cache.longestPrefix(new int[] {2, 2, 2, 2, 7}));
            assertEquals(4, cache.longestPrefix(new int[] {3, 3, 3, 3, 7}).length());
            assertEquals(4, cache.longestPrefix(new int[] {4, 4, 4, 4, 7}).length());
        }
    }

    @Test
    void theDirectoryBelongsToOneInstanceAndIsClearedAtOpenAndClose() throws IOException {
        Path leftover = Files.writeString(dir.resolve("state-77" + StateSpill.SUFFIX), "from a crashed server");
        Path foreign = Files.writeString(dir.resolve("notes.txt"), "not ours");
        try (SessionCache cache = cacheForOne(PROMPT, 1L << 30)) {
            assertFalse(Files.exists(leftover));
            assertTrue(Files.exists(foreign));
            IllegalStateException e =
                    assertThrows(IllegalStateException.class, () -> StateSpill.open(dir, 1L << 20, MODEL));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            cache.put(sessionOf(PROMPT));
            cache.put(sessionOf(new int[] {9}));
            assertEquals(1, stateFiles().size());
        }
        assertEquals(0, stateFiles().size());
        assertTrue(Files.exists(foreign));
        StateSpill.open(dir, 1L << 20, MODEL).close(); // released: a new instance may take it
    }
}
