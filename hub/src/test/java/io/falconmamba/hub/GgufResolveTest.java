package io.falconmamba.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Picking and fetching one GGUF file of a repository that holds several. */
@Timeout(60)
class GgufResolveTest {

    private static final String REPO = "tiiuae/tiny-falcon-mamba-GGUF";
    private static final Path FIXTURE = HubTestSupport.fixture("gguf/gguf-falcon-mamba");
    private static final List<String> FILES =
            List.of("README.md", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-Q8_0.gguf", "m-BF16.gguf", "config.json");

    @TempDir
    Path tmp;

    private FakeHub hub;

    @AfterEach
    void stop() {
        if (hub != null) {
            hub.close();
        }
    }

    @Test
    void picksByTypeAsAWholeWordOfTheFileName() {
        assertEquals("m-Q4_K_M.gguf", new GgufChoice(null, "Q4_K_M").pick(REPO, FILES));
        assertEquals("m-Q8_0.gguf", new GgufChoice(null, "q8_0").pick(REPO, FILES));
        assertEquals("m-BF16.gguf", new GgufChoice("m-BF16.gguf", null).pick(REPO, FILES));
        assertEquals("only.gguf", GgufChoice.any().pick(REPO, List.of("a.md", "only.gguf")));
    }

    @Test
    void errorsListWhatTheRepositoryHolds() {
        HubException none = assertThrows(HubException.class, () -> new GgufChoice(null, "Q4_K").pick(REPO, FILES));
        assertTrue(none.getMessage().contains("has no GGUF file of type Q4_K"), none.getMessage());
        assertTrue(
                none.getMessage().contains("m-Q4_K_M.gguf, m-Q4_K_S.gguf, m-Q8_0.gguf, m-BF16.gguf"),
                none.getMessage());
        HubException several =
                assertThrows(HubException.class, () -> GgufChoice.any().pick(REPO, FILES));
        assertTrue(
                several.getMessage().contains("several") && several.getMessage().contains("--gguf-file"));
        HubException named =
                assertThrows(HubException.class, () -> new GgufChoice("m-Q2_K.gguf", null).pick(REPO, FILES));
        assertTrue(named.getMessage().contains("no GGUF file 'm-Q2_K.gguf'"), named.getMessage());
        assertTrue(named.getMessage().contains(REPO), named.getMessage());
        HubException empty =
                assertThrows(HubException.class, () -> GgufChoice.any().pick(REPO, List.of("x.bin")));
        assertTrue(empty.getMessage().contains("holds no .gguf file"), empty.getMessage());
    }

    /** A fake repository: two GGUF files of the fixture and a README. */
    private Path repoFiles() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("repo"));
        Files.copy(FIXTURE.resolve("model-Q8_0.gguf"), dir.resolve("m-Q8_0.gguf"));
        Files.copy(FIXTURE.resolve("model-Q4_K_M.gguf"), dir.resolve("m-Q4_K_M.gguf"));
        Files.writeString(dir.resolve("README.md"), "GGUF files");
        return dir;
    }

    private ResolveOptions.Builder opts(boolean download) {
        return ResolveOptions.builder()
                .env(Map.of(
                        "HF_HUB_CACHE",
                        tmp.resolve("hub").toString(),
                        "HF_ENDPOINT",
                        hub == null ? "http://127.0.0.1:9" : hub.endpoint()))
                .home(tmp.resolve("home"))
                .allowDownload(download)
                .readTimeout(Duration.ofSeconds(5))
                .connectTimeout(Duration.ofSeconds(2))
                .retryBackoff(Duration.ofMillis(10));
    }

    @Test
    void downloadsTheChosenFileOnlyThenFindsItInTheCache() throws Exception {
        Path repo = repoFiles();
        hub = new FakeHub(repo, REPO);
        Path got = ModelResolver.resolveGguf(
                REPO, new GgufChoice(null, "Q8_0"), opts(true).build());
        assertEquals("m-Q8_0.gguf", got.getFileName().toString());
        assertArrayEquals(Files.readAllBytes(repo.resolve("m-Q8_0.gguf")), Files.readAllBytes(got));
        assertFalse(Files.exists(got.resolveSibling("m-Q4_K_M.gguf")), "only the chosen file is fetched");
        int requests = hub.requestCount();

        // offline now: the cache answers, by type or by name
        Path again = ModelResolver.resolveGguf(
                REPO, new GgufChoice(null, "q8_0"), opts(false).build());
        assertEquals(got, again);
        assertEquals(requests, hub.requestCount());
        HubException e = assertThrows(
                HubException.class,
                () -> ModelResolver.resolveGguf(
                        REPO, new GgufChoice(null, "Q4_K_M"), opts(false).build()));
        assertTrue(e.getMessage().contains("m-Q8_0.gguf"), e.getMessage());
    }

    @Test
    void unknownTypeOnTheHubListsItsFiles() throws Exception {
        hub = new FakeHub(repoFiles(), REPO);
        HubException e = assertThrows(
                HubException.class,
                () -> ModelResolver.resolveGguf(
                        REPO, new GgufChoice(null, "Q5_K_M"), opts(true).build()));
        assertTrue(e.getMessage().contains("m-Q4_K_M.gguf, m-Q8_0.gguf"), e.getMessage());
    }
}
