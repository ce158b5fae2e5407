package io.falconmamba.core.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.testutil.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SessionCache is documented thread-safe: four threads putting and looking up at once never see a wrong state. */
class SessionCacheConcurrencyTest {

    static final GenerationConfig NEXT =
            GenerationConfig.builder().maxNewTokens(3).build();

    @Test
    void fourThreadsPutAndLookUpAndEveryMatchContinuesLikeAFreshSession() throws Exception {
        try (FalconMambaModel model = Fixtures.loadModel("tiny-falcon-mamba", 1)) {
            int[] base = {5, 17, 42, 99, 3, 250, 7, 11, 64, 128, 9, 33};
            // Room for a few sessions only, so the threads also race evictions.
            race(model, base, new SessionCache(4 * SessionCache.sizeOf(sessionOf(model, base))));
        }
    }

    @Test
    void withASpillTheThreadsAlsoRaceWritesAndLoadsOfFiles(@TempDir Path dir) throws Exception {
        try (FalconMambaModel model = Fixtures.loadModel("tiny-falcon-mamba", 1)) {
            int[] base = {5, 17, 42, 99, 3, 250, 7, 11, 64, 128, 9, 33};
            long one = SessionCache.sizeOf(sessionOf(model, base));
            // Memory for two sessions, disk for about four: entries move between memory, disk and nowhere.
            try (SessionCache cache = new SessionCache(2 * one, StateSpill.open(dir, 4 * one, model))) {
                race(model, base, cache);
                StateSpill.Stats st = cache.spillStats();
                assertTrue(st.spilled() > 0 && st.loaded() > 0, st.toString());
                assertEquals(0, st.rejected(), st.toString());
                assertTrue(st.bytes() <= st.maxBytes(), st.toString());
            }
        }
    }

    /** Four threads put prefixes of {@code base} and continue what they look up, against sequential results. */
    static void race(FalconMambaModel model, int[] base, SessionCache cache) throws Exception {
        // What each prefix continues with, computed one after the other.
        int[][] expected = new int[base.length + 1][];
        for (int n = 1; n <= base.length; n++) {
            Session s = new Session(model);
            s.append(Arrays.copyOf(base, n));
            expected[n] = s.generate(NEXT).tokens();
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long seed = t;
                futures.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    int checked = 0;
                    for (int i = 0; i < 40; i++) {
                        int n = 1 + random.nextInt(base.length);
                        int[] tokens = Arrays.copyOf(base, n);
                        if (random.nextBoolean()) {
                            cache.put(sessionOf(model, tokens));
                        } else {
                            SessionCache.Match m = cache.longestPrefix(tokens);
                            if (m != null) {
                                Session s = m.session();
                                s.append(Arrays.copyOfRange(tokens, m.length(), n));
                                assertArrayEquals(expected[n], s.generate(NEXT).tokens(), "prefix " + n);
                                checked++;
                            }
                        }
                    }
                    return checked;
                }));
            }
            int checked = 0;
            for (Future<Integer> f : futures) {
                checked += f.get();
            }
            assertTrue(checked > 0, "no lookup hit: the test checked nothing");
            assertTrue(
                    cache.stats().bytes() <= cache.stats().maxBytes(),
                    cache.stats().toString());
        } finally {
            pool.shutdownNow();
        }
    }

    static Session sessionOf(FalconMambaModel model, int[] tokens) {
        Session s = new Session(model);
        s.append(tokens);
        return s;
    }
}
