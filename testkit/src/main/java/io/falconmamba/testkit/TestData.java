package io.falconmamba.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the test data lives: the repository's {@code src/test}, holding {@code fixtures/} (tiny models with
 * golden outputs from Hugging Face transformers) and {@code models/demo-kjv} (the demo model).
 *
 * <p>The one place that decides it. Surefire passes the root as the system property {@code fixtures.root};
 * a test started outside Maven (an IDE) finds it by walking up from the working directory.
 */
public final class TestData {

    /** The system property Maven's surefire sets to {@code <repo>/src/test}. */
    public static final String PROPERTY = "fixtures.root";

    private static volatile Path root;

    private TestData() {}

    /** {@code <repo>/src/test}. */
    public static Path root() {
        Path r = root;
        if (r == null) {
            r = locate();
            root = r;
        }
        return r;
    }

    /** A folder under {@code src/test/fixtures}. */
    public static Path fixture(String name) {
        return root().resolve("fixtures").resolve(name);
    }

    /** A model folder: a fixture of that name, else one under {@code src/test/models}. */
    public static Path model(String name) {
        Path p = fixture(name);
        return Files.isDirectory(p) ? p : root().resolve("models").resolve(name);
    }

    /** The bundled demo model, {@code src/test/models/demo-kjv}. */
    public static Path demoModel() {
        return root().resolve("models").resolve("demo-kjv");
    }

    private static Path locate() {
        String property = System.getProperty(PROPERTY);
        if (property != null) {
            Path p = Path.of(property).toAbsolutePath().normalize();
            if (!Files.isDirectory(p.resolve("fixtures"))) {
                throw new IllegalStateException(PROPERTY + "=" + property + " has no fixtures/ folder");
            }
            return p;
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("src").resolve("test");
            if (Files.isDirectory(candidate.resolve("fixtures")) && Files.isDirectory(candidate.resolve("models"))) {
                return candidate;
            }
        }
        throw new IllegalStateException(
                "test data not found: set -D" + PROPERTY + "=<repo>/src/test or run from inside the repository");
    }
}
