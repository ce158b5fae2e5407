package io.falconmamba.hub;

import static io.falconmamba.hub.HubTestSupport.assertSameModel;
import static io.falconmamba.hub.HubTestSupport.buildCache;
import static io.falconmamba.hub.HubTestSupport.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Local directories and the Hugging Face cache layout, without any network. */
class ModelResolverCacheTest {

    private static final String REPO = "tiiuae/tiny-falcon-mamba";
    private static final String COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    private static final Path SHARDED = fixture("tiny-falcon-mamba-sharded");

    @TempDir
    Path tmp;

    private ResolveOptions.Builder opts(Map<String, String> env) {
        // An endpoint nobody listens on: any request would fail loudly, but none must be made.
        return ResolveOptions.builder()
                .env(env)
                .home(tmp.resolve("home"))
                .endpoint("http://127.0.0.1:9")
                .maxAttempts(1);
    }

    @Test
    void findsSnapshotUnderHfHubCache() throws Exception {
        Path cache = tmp.resolve("hubcache");
        Path snapshot = buildCache(cache, REPO, SHARDED, COMMIT, "main");
        Path resolved = ModelResolver.resolve(
                REPO, opts(Map.of("HF_HUB_CACHE", cache.toString())).build());
        assertEquals(snapshot, resolved);
        assertTrue(Files.isSymbolicLink(resolved.resolve("model-00001-of-00004.safetensors")));
        assertSameModel(SHARDED, resolved);
    }

    @Test
    void findsSnapshotUnderHfHome() throws Exception {
        Path hfHome = tmp.resolve("hf-home");
        Path snapshot = buildCache(hfHome.resolve("hub"), REPO, SHARDED, COMMIT, "main");
        assertEquals(
                snapshot,
                ModelResolver.resolve(
                        REPO, opts(Map.of("HF_HOME", hfHome.toString())).build()));
    }

    @Test
    void findsSnapshotUnderDefaultHomeCache() throws Exception {
        Path snapshot = buildCache(tmp.resolve("home/.cache/huggingface/hub"), REPO, SHARDED, COMMIT, "main");
        assertEquals(snapshot, ModelResolver.resolve(REPO, opts(Map.of()).build()));
    }

    @Test
    void findsSnapshotUnderXdgCacheHome() throws Exception {
        Path snapshot = buildCache(tmp.resolve("xdg/huggingface/hub"), REPO, SHARDED, COMMIT, "main");
        assertEquals(
                snapshot,
                ModelResolver.resolve(
                        REPO,
                        opts(Map.of("XDG_CACHE_HOME", tmp.resolve("xdg").toString()))
                                .build()));
    }

    @Test
    void hfHubCacheWinsOverHfHome() throws Exception {
        Path cache = tmp.resolve("hubcache");
        Path snapshot = buildCache(cache, REPO, SHARDED, COMMIT, "main");
        Path other = tmp.resolve("other-home");
        Files.createDirectories(other.resolve("hub"));
        Path resolved = ModelResolver.resolve(
                REPO,
                opts(Map.of("HF_HUB_CACHE", cache.toString(), "HF_HOME", other.toString()))
                        .build());
        assertEquals(snapshot, resolved);
    }

    @Test
    void singleFileModelInCache() throws Exception {
        Path single = fixture("tiny-falcon-mamba");
        Path snapshot = buildCache(tmp, "state-spaces/mamba-tiny", single, COMMIT, "main");
        assertEquals(
                snapshot,
                ModelResolver.resolve(
                        "state-spaces/mamba-tiny", opts(Map.of()).cacheDir(tmp).build()));
    }

    @Test
    void revisionsFromSuffixOptionAndCommit() throws Exception {
        String other = "ffffffffffffffffffffffffffffffffffffffff";
        Path v1 = buildCache(tmp, REPO, SHARDED, other, "v1.0");
        Path main = buildCache(tmp, REPO, SHARDED, COMMIT, "main");
        ResolveOptions o = opts(Map.of()).cacheDir(tmp).build();
        assertEquals(main, ModelResolver.resolve(REPO, o));
        assertEquals(v1, ModelResolver.resolve(REPO + "@v1.0", o));
        assertEquals(
                v1, ModelResolver.resolve(REPO, o.toBuilder().revision("v1.0").build()));
        // a full commit hash needs no ref
        assertEquals(v1, ModelResolver.resolve(REPO + "@" + other, o));
        HubException e = assertThrows(
                HubException.class,
                () -> ModelResolver.resolve(
                        REPO + "@v1.0", o.toBuilder().revision("main").build()));
        assertEquals(HubException.Reason.INVALID_ID, e.reason());
    }

    @Test
    void snapshotWithMissingBlobIsNotUsed() throws Exception {
        Path snapshot = buildCache(tmp, REPO, SHARDED, COMMIT, "main");
        Path target = snapshot.resolve("model-00003-of-00004.safetensors").toRealPath();
        Files.delete(target);
        HubException e = assertThrows(
                HubException.class,
                () -> ModelResolver.resolve(REPO, opts(Map.of()).cacheDir(tmp).build()));
        assertEquals(HubException.Reason.NOT_FOUND, e.reason());
        assertTrue(e.getMessage().contains("model-00003-of-00004.safetensors"), e.getMessage());
    }

    @Test
    void localDirectoryWins() throws Exception {
        assertEquals(
                SHARDED,
                ModelResolver.resolve(
                        SHARDED.toString(), opts(Map.of()).cacheDir(tmp).build()));
        // ~ is the (injected) home directory
        Path home = tmp.resolve("home");
        Path model = buildCache(home.resolve("models"), REPO, SHARDED, COMMIT, null);
        String tilde = "~/" + home.relativize(model).toString().replace('\\', '/');
        assertEquals(model, ModelResolver.resolve(tilde, opts(Map.of()).build()));
    }

    @Test
    void incompleteLocalDirectoryIsAClearError() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("half-model"));
        Files.copy(SHARDED.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(SHARDED.resolve("model.safetensors.index.json"), dir.resolve("model.safetensors.index.json"));
        Files.copy(
                SHARDED.resolve("model-00001-of-00004.safetensors"), dir.resolve("model-00001-of-00004.safetensors"));
        HubException e = assertThrows(
                HubException.class,
                () -> ModelResolver.resolve(dir.toString(), opts(Map.of()).build()));
        assertEquals(HubException.Reason.INCOMPLETE_MODEL, e.reason());
        assertTrue(e.getMessage().contains(dir.toAbsolutePath().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("model-00002-of-00004.safetensors"), e.getMessage());
    }

    @Test
    void notFoundWithoutDownloadSaysWhereItLookedAndHowToDownload() throws Exception {
        try (FakeHub hub = new FakeHub(SHARDED, REPO)) {
            ResolveOptions o = ResolveOptions.builder()
                    .env(Map.of("HF_HUB_CACHE", tmp.toString()))
                    .home(tmp)
                    .endpoint(hub.endpoint())
                    .build();
            HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, o));
            assertEquals(HubException.Reason.NOT_FOUND, e.reason());
            String msg = e.getMessage();
            assertTrue(msg.contains(REPO), msg);
            assertTrue(
                    msg.contains(
                            tmp.resolve("models--tiiuae--tiny-falcon-mamba").toString()),
                    msg);
            assertTrue(msg.contains(Path.of(REPO).toAbsolutePath().toString()), msg);
            assertTrue(msg.contains("allowDownload(true)"), msg);
            assertEquals(0, hub.requestCount(), "no request without allowDownload");
        }
    }

    @Test
    void offlineModeNeverDownloads() throws Exception {
        try (FakeHub hub = new FakeHub(SHARDED, REPO)) {
            ResolveOptions o = ResolveOptions.builder()
                    .env(Map.of("HF_HUB_OFFLINE", "1"))
                    .cacheDir(tmp)
                    .home(tmp)
                    .endpoint(hub.endpoint())
                    .allowDownload(true)
                    .build();
            HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(REPO, o));
            assertEquals(HubException.Reason.NOT_FOUND, e.reason());
            assertTrue(e.getMessage().contains("HF_HUB_OFFLINE"), e.getMessage());
            assertEquals(0, hub.requestCount());
        }
    }

    @Test
    void invalidInputs() {
        ResolveOptions o = opts(Map.of()).cacheDir(tmp).build();
        for (String bad : new String[] {
            "",
            "   ",
            "no-slash-and-no-dir",
            "a/b/c",
            "org/na me",
            "-org/name",
            "org/name@",
            "org/na--me",
            "org/name@../../x",
            tmp.resolve("does-not-exist").toString()
        }) {
            HubException e = assertThrows(HubException.class, () -> ModelResolver.resolve(bad, o), bad);
            assertEquals(HubException.Reason.INVALID_ID, e.reason(), bad + ": " + e.getMessage());
        }
    }

    @Test
    void repoIdParsing() {
        RepoId id = RepoId.parse("tiiuae/falcon-mamba-7b-instruct@refs/pr/1");
        assertEquals("tiiuae", id.org());
        assertEquals("falcon-mamba-7b-instruct", id.name());
        assertEquals("refs/pr/1", id.revision());
        assertEquals("models--tiiuae--falcon-mamba-7b-instruct", id.cacheFolderName());
        assertEquals("main", RepoId.parse("state-spaces/mamba-130m-hf").effectiveRevision());
        assertTrue(RepoId.isCommitHash(COMMIT));
        assertTrue(!RepoId.isValid("org/name.git"));
    }
}
