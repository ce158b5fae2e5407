package io.falconmamba.hub;

import static io.falconmamba.hub.HubTestSupport.assertSameModel;
import static io.falconmamba.hub.HubTestSupport.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Downloads from a fake Hub on 127.0.0.1 into the hub cache layout. */
@Timeout(60)
class HubDownloadTest {

    private static final String REPO = "tiiuae/tiny-falcon-mamba-sharded";
    private static final Path SHARDED = fixture("tiny-falcon-mamba-sharded");
    private static final String SHARD1 = "model-00001-of-00004.safetensors";
    private static final String SHARD2 = "model-00002-of-00004.safetensors";
    private static final String SHARD3 = "model-00003-of-00004.safetensors";

    @TempDir
    Path tmp;

    private FakeHub hub;

    @AfterEach
    void stop() {
        if (hub != null) {
            hub.close();
        }
    }

    private Path cache() {
        return tmp.resolve("hub");
    }

    private Path repoDir() {
        return cache().resolve("models--tiiuae--tiny-falcon-mamba-sharded");
    }

    private ResolveOptions.Builder opts(Map<String, String> extraEnv) {
        Map<String, String> env = new HashMap<>(extraEnv);
        env.put("HF_HUB_CACHE", cache().toString());
        env.put("HF_ENDPOINT", hub.endpoint());
        return ResolveOptions.builder()
                .env(env)
                .home(tmp.resolve("home"))
                .allowDownload(true)
                .readTimeout(Duration.ofSeconds(5))
                .connectTimeout(Duration.ofSeconds(2))
                .retryBackoff(Duration.ofMillis(10));
    }

    private ResolveOptions opts() {
        return opts(Map.of()).build();
    }

    @Test
    void downloadsWholeModelIntoHfCacheLayoutThenUsesTheCache() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        Map<String, long[]> progress = new ConcurrentHashMap<>();
        ResolveOptions o = opts(Map.of())
                .listener((file, done, total) -> progress.put(file, new long[] {done, total}))
                .build();

        Path snapshot = ModelResolver.resolve(REPO, o);

        assertEquals(repoDir().resolve("snapshots").resolve(FakeHub.COMMIT), snapshot);
        assertSameModel(SHARDED, snapshot);
        assertEquals(FakeHub.COMMIT, Files.readString(repoDir().resolve("refs/main")));
        // snapshot entries are relative symlinks into blobs/, LFS blobs named by sha256
        for (String f : HubTestSupport.modelFiles(SHARDED)) {
            Path link = snapshot.resolve(f);
            assertTrue(Files.isSymbolicLink(link), f);
            Path target = Files.readSymbolicLink(link);
            assertFalse(target.isAbsolute(), f + " -> " + target);
            assertEquals(Path.of("..", "..", "blobs"), target.getParent(), f + " -> " + target);
        }
        String sha1 = FakeHub.sha256(Files.readAllBytes(SHARDED.resolve(SHARD1)));
        assertEquals(
                snapshot.resolve(SHARD1).toRealPath(),
                repoDir().resolve("blobs").resolve(sha1).toRealPath());
        try (Stream<Path> s = Files.list(repoDir().resolve("blobs"))) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".incomplete")), "no .incomplete left");
        }
        // the safetensors went through the 302 to the CDN path
        List<String> requests = hub.requests();
        assertTrue(requests.contains("HEAD /" + REPO + "/resolve/main/config.json"), requests.toString());
        assertTrue(
                requests.stream()
                        .anyMatch(r -> r.startsWith("HEAD /" + REPO + "/resolve/" + FakeHub.COMMIT + "/" + SHARD1)),
                requests.toString());
        assertTrue(requests.contains("GET /cdn/" + SHARD1), requests.toString());
        // progress: every file ends with done == total
        for (String f : HubTestSupport.modelFiles(SHARDED)) {
            long[] last = progress.get(f);
            long size = Files.size(SHARDED.resolve(f));
            assertArrayEquals(new long[] {size, size}, last, f);
        }

        int before = hub.requestCount();
        assertEquals(snapshot, ModelResolver.resolve(REPO, o));
        assertEquals(
                snapshot,
                ModelResolver.resolve(REPO, o.toBuilder().allowDownload(false).build()));
        assertEquals(before, hub.requestCount(), "a cached model needs no request");
    }

    @Test
    void singleFileModel() throws Exception {
        Path single = fixture("tiny-falcon-mamba");
        hub = new FakeHub(single, REPO);
        Path snapshot = ModelResolver.resolve(REPO, opts());
        assertSameModel(single, snapshot);
        assertTrue(hub.requests()
                .contains("HEAD /" + REPO + "/resolve/" + FakeHub.COMMIT + "/model.safetensors.index.json"));
    }

    @Test
    void downloadAtACommitWritesNoRef() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        Path snapshot = ModelResolver.resolve(REPO + "@" + FakeHub.COMMIT, opts());
        assertEquals(repoDir().resolve("snapshots").resolve(FakeHub.COMMIT), snapshot);
        assertFalse(Files.exists(repoDir().resolve("refs")));
        assertSameModel(SHARDED, snapshot);
    }

    @Test
    void unknownRevisionIsAClearError() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO + "@nope", opts()));
        assertEquals(HubException.Reason.REPO_NOT_FOUND, e.reason());
        assertTrue(e.getMessage().contains("nope") && e.getMessage().contains(REPO), e.getMessage());
    }

    @Test
    void resumesACutTransferWithRange() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.cutOnce.add(SHARD2);
        Path snapshot = ModelResolver.resolve(REPO, opts());
        assertSameModel(SHARDED, snapshot);
        List<String> ranged = hub.requests().stream()
                .filter(r -> r.startsWith("GET /cdn/" + SHARD2 + " range=bytes="))
                .toList();
        assertEquals(1, ranged.size(), hub.requests().toString());
        // The resume point is what reached the disk before the cut: the server sent half of the body,
        // and a connection reset may discard the tail the client had not read yet, so it is at most half.
        long half = Files.size(SHARDED.resolve(SHARD2)) / 2;
        long from = Long.parseLong(ranged.get(0).replaceAll(".*bytes=(\\d+)-$", "$1"));
        assertTrue(from > 0 && from <= half, ranged + " should resume within the first half (" + half + " bytes)");
    }

    @Test
    void restartsWhenTheServerIgnoresRange() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.ignoreRange = true;
        hub.cutOnce.add(SHARD1);
        Path snapshot = ModelResolver.resolve(REPO, opts());
        assertSameModel(SHARDED, snapshot);
        assertTrue(
                hub.requests().stream().anyMatch(r -> r.startsWith("GET /cdn/" + SHARD1 + " range=")),
                hub.requests().toString());
    }

    @Test
    void resumesAPartialFileLeftByAnEarlierRun() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        byte[] data = Files.readAllBytes(SHARDED.resolve(SHARD3));
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(FakeHub.sha256(data) + ".incomplete"), java.util.Arrays.copyOf(data, 1000));
        Path snapshot = ModelResolver.resolve(REPO, opts());
        assertSameModel(SHARDED, snapshot);
        assertTrue(
                hub.requests().contains("GET /cdn/" + SHARD3 + " range=bytes=1000-"),
                hub.requests().toString());
    }

    @Test
    void resumesAStalledTransfer() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.stallOnce.add(SHARD1);
        hub.stallMillis = 5000;
        Path snapshot = ModelResolver.resolve(
                REPO, opts(Map.of()).readTimeout(Duration.ofMillis(400)).build());
        assertSameModel(SHARDED, snapshot);
        // Had the client waited out the 5 s stall, the first connection would have delivered the rest and no range
        // request would follow: the resumed range request is what shows the read timeout cut the stall short.
        assertTrue(
                hub.requests().stream().anyMatch(r -> r.startsWith("GET /cdn/" + SHARD1 + " range=bytes=")),
                hub.requests().toString());
    }

    @Test
    void checksumMismatchIsAClearErrorAndLeavesNoBlob() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.corrupt.add(SHARD2);
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, opts()));
        assertEquals(HubException.Reason.INTEGRITY, e.reason());
        String sha = FakeHub.sha256(Files.readAllBytes(SHARDED.resolve(SHARD2)));
        assertTrue(
                e.getMessage().contains(SHARD2)
                        && e.getMessage().contains(sha)
                        && e.getMessage().contains(REPO),
                e.getMessage());
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(sha)));
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(sha + ".incomplete")));
        assertFalse(Files.exists(
                repoDir().resolve("snapshots").resolve(FakeHub.COMMIT).resolve(SHARD2)));
        // once the server is fixed, the download completes (reusing the files already fetched)
        hub.corrupt.clear();
        int before = hub.requestCount();
        assertSameModel(SHARDED, ModelResolver.resolve(REPO, opts()));
        assertFalse(
                hub.requests().subList(before, hub.requestCount()).contains("GET /cdn/" + SHARD1),
                "shard 1 was already cached");
    }

    @Test
    void authenticationRequiredMentionsHfTokenAndTokenWorks() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.requiredToken = "hf_secret_test_token";
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, opts()));
        assertEquals(HubException.Reason.AUTHENTICATION, e.reason());
        assertTrue(e.getMessage().contains("HF_TOKEN") && e.getMessage().contains(REPO), e.getMessage());

        HubException wrong = assertThrows(
                HubException.class,
                () -> ModelResolver.resolve(
                        REPO, opts(Map.of("HF_TOKEN", "hf_wrong")).build()));
        assertEquals(HubException.Reason.AUTHENTICATION, wrong.reason());
        assertTrue(wrong.getMessage().contains("HF_TOKEN"), wrong.getMessage());

        Path snapshot = ModelResolver.resolve(
                REPO, opts(Map.of("HF_TOKEN", "hf_secret_test_token")).build());
        assertSameModel(SHARDED, snapshot);
    }

    @Test
    void tokenFileUnderHfHomeIsUsed() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.requiredToken = "hf_from_file";
        Path hfHome = Files.createDirectories(tmp.resolve("hf-home"));
        Files.writeString(hfHome.resolve("token"), "hf_from_file\n", StandardCharsets.UTF_8);
        assertSameModel(
                SHARDED,
                ModelResolver.resolve(
                        REPO, opts(Map.of("HF_HOME", hfHome.toString())).build()));
    }

    @Test
    void missingRequiredFileIsNamed() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.missing.add(SHARD3);
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, opts()));
        assertEquals(HubException.Reason.FILE_NOT_FOUND, e.reason());
        assertTrue(e.getMessage().contains(SHARD3) && e.getMessage().contains(REPO), e.getMessage());

        // a fresh cache: the first attempt already stored tokenizer.json
        deleteTree(cache());
        hub.missing.clear();
        hub.missing.add("tokenizer.json");
        HubException t = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, opts()));
        assertEquals(HubException.Reason.FILE_NOT_FOUND, t.reason());
        assertTrue(t.getMessage().contains("tokenizer.json") && t.getMessage().contains(REPO), t.getMessage());
    }

    @Test
    void missingOptionalFilesAreSkipped() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        hub.missing.add("generation_config.json");
        hub.missing.add("tokenizer_config.json");
        Path snapshot = ModelResolver.resolve(REPO, opts());
        assertFalse(Files.exists(snapshot.resolve("generation_config.json")));
        assertTrue(Files.isRegularFile(snapshot.resolve("tokenizer.json")));
        assertTrue(Files.isRegularFile(snapshot.resolve(SHARD3)));
    }

    @Test
    void unreachableServerNamesTheUrl() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        String endpoint = hub.endpoint();
        hub.close();
        hub = null;
        ResolveOptions o = ResolveOptions.builder()
                .env(Map.of("HF_ENDPOINT", endpoint))
                .cacheDir(cache())
                .home(tmp)
                .allowDownload(true)
                .maxAttempts(2)
                .retryBackoff(Duration.ofMillis(10))
                .connectTimeout(Duration.ofSeconds(2))
                .build();
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, o));
        assertEquals(HubException.Reason.NETWORK, e.reason());
        assertTrue(e.getMessage().contains(endpoint + "/" + REPO + "/resolve/main/config.json"), e.getMessage());
    }

    @Test
    void unsafeShardNameInIndexIsRejected() throws Exception {
        Path evil = Files.createDirectories(tmp.resolve("evil"));
        for (String f : HubTestSupport.modelFiles(SHARDED)) {
            Files.copy(SHARDED.resolve(f), evil.resolve(f));
        }
        Files.writeString(
                evil.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"../../../escape.safetensors\"}}",
                StandardCharsets.UTF_8);
        hub = new FakeHub(evil, REPO);
        HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, opts()));
        assertEquals(HubException.Reason.INCOMPLETE_MODEL, e.reason());
        assertTrue(e.getMessage().contains("../../../escape.safetensors"), e.getMessage());
    }

    @Test
    void concurrentResolvesShareOneDownloadPerBlob() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        ResolveOptions o = opts();
        List<Path> results = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    results.add(ModelResolver.resolve(REPO, o));
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join(30_000);
        }
        assertEquals(List.of(), errors);
        assertEquals(3, results.size());
        assertSameModel(SHARDED, results.get(0));
        for (String f : HubTestSupport.modelFiles(SHARDED)) {
            assertTrue(Files.isSymbolicLink(results.get(0).resolve(f)), f + " is still a link into blobs/");
        }
        for (String shard : List.of(SHARD1, SHARD2, SHARD3)) {
            assertEquals(
                    1,
                    hub.requests().stream()
                            .filter(r -> r.equals("GET /cdn/" + shard))
                            .count(),
                    hub.requests().toString());
        }
    }

    @Test
    void progressIsReportedWhileDownloading() throws Exception {
        hub = new FakeHub(SHARDED, REPO);
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        ResolveOptions o = opts(Map.of())
                .listener((f, done, total) -> {
                    assertTrue(total < 0 || done <= total, f + " " + done + "/" + total);
                    events.add(f);
                })
                .build();
        ModelResolver.resolve(REPO, o);
        assertTrue(events.contains("config.json") && events.contains(SHARD1), events.toString());
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
