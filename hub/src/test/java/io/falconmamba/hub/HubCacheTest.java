package io.falconmamba.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache's own writes, where threads of one process meet. */
class HubCacheTest {

    @TempDir
    Path tmp;

    /**
     * Several resolves of one repo each record {@code refs/main}. The temporary file they write first was
     * once named after the process alone, so one thread's rename took another's file away and that
     * thread failed with "cannot write refs/main" (CI saw it once in the three-thread download test).
     * Here the writes are many and start together, so a shared name fails on nearly every run.
     */
    @Test
    void concurrentRefWritesFromOneProcessAllSucceed() throws Exception {
        Path repoDir = tmp.resolve("models--org--name");
        int threads = 6;
        int writesEach = 200;
        List<String> commits = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            commits.add(String.format("%040x", t + 1));
        }
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String commit = commits.get(t);
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (int i = 0; i < writesEach; i++) {
                        HubCache.writeRef(repoDir, "main", commit);
                        String seen = HubCache.commitFor(repoDir, "main");
                        if (!commits.contains(seen)) {
                            throw new AssertionError("refs/main read back as " + seen);
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        for (Thread w : workers) {
            w.join(60_000);
            assertTrue(!w.isAlive(), "a writer is still running after 60 s");
        }
        assertEquals(List.of(), errors);
        assertTrue(commits.contains(HubCache.commitFor(repoDir, "main")));
        try (Stream<Path> left = Files.list(repoDir.resolve("refs"))) {
            Set<String> names = left.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
            assertEquals(Set.of("main"), names, "temporary files left behind");
        }
    }

    @Test
    void refUnderANestedRevisionIsWrittenAndReadBack() {
        Path repoDir = tmp.resolve("models--org--name");
        String commit = "0123456789abcdef0123456789abcdef01234567";
        HubCache.writeRef(repoDir, "release/v1", commit);
        assertTrue(
                Files.isRegularFile(repoDir.resolve("refs").resolve("release").resolve("v1")));
        assertEquals(commit, HubCache.commitFor(repoDir, "release/v1"));
    }
}
