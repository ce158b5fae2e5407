package io.falconmamba;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.stream.IntStream;

/** Where the shared fixtures and the demo model are, and small helpers for the facade tests. */
public final class TestModels {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TestModels() {}

    /** {@code <repo>/src/test}. */
    public static Path testRoot() {
        return TestData.root();
    }

    public static Path fixture(String name) {
        return testRoot().resolve("fixtures").resolve(name);
    }

    public static Path demo() {
        return testRoot().resolve("models").resolve("demo-kjv");
    }

    /** Loads with one kernel thread: much faster for tiny models on a shared machine. */
    public static FalconMamba load(Path dir) {
        return FalconMamba.load(dir, LoadOptions.defaults().withThreads(1));
    }

    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        return IntStream.range(0, array.size()).map(i -> array.get(i).asInt()).toArray();
    }

    public static int[] concat(int[]... parts) {
        return IntStream.range(0, parts.length)
                .flatMap(i -> java.util.Arrays.stream(parts[i]))
                .toArray();
    }
}
