package io.falconmamba.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/** Fixtures and a builder of hub caches laid out exactly as huggingface_hub writes them. */
final class HubTestSupport {

    private HubTestSupport() {}

    static Path fixture(String name) {
        Path p = TestData.fixture(name);
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("fixture not found: " + p);
        }
        return p;
    }

    /** The files of a fixture that make up the model (everything but the reference outputs). */
    static List<String> modelFiles(Path fixture) {
        try (Stream<Path> s = Files.list(fixture)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> !n.startsWith("reference."))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes {@code fixture} into a hub cache under {@code cacheRoot} as huggingface_hub would: blobs named
     * by sha256, snapshot entries as relative symlinks, {@code refs/{ref}} holding the commit.
     */
    static Path buildCache(Path cacheRoot, String repoId, Path fixture, String commit, String ref) throws IOException {
        Path repoDir = cacheRoot.resolve("models--" + repoId.replace("/", "--"));
        Path blobs = Files.createDirectories(repoDir.resolve("blobs"));
        Path snapshot = Files.createDirectories(repoDir.resolve("snapshots").resolve(commit));
        for (String file : modelFiles(fixture)) {
            byte[] data = Files.readAllBytes(fixture.resolve(file));
            Path blob = blobs.resolve(FakeHub.sha256(data));
            Files.write(blob, data);
            Files.createSymbolicLink(
                    snapshot.resolve(file),
                    Path.of("..", "..", "blobs", blob.getFileName().toString()));
        }
        if (ref != null) {
            Path refFile = repoDir.resolve("refs").resolve(ref);
            Files.createDirectories(refFile.getParent());
            Files.writeString(refFile, commit, StandardCharsets.UTF_8);
        }
        return snapshot;
    }

    /** Asserts that {@code dir} holds exactly the model files of {@code fixture}, byte for byte. */
    static void assertSameModel(Path fixture, Path dir) throws IOException {
        List<String> expected = modelFiles(fixture);
        TreeSet<String> actual = new TreeSet<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> actual.add(p.getFileName().toString()));
        }
        assertEquals(new TreeSet<>(expected), actual, "files in " + dir);
        for (String f : expected) {
            assertArrayEquals(
                    Files.readAllBytes(fixture.resolve(f)), Files.readAllBytes(dir.resolve(f)), f + " differs");
        }
    }
}
