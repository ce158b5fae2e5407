package io.falconmamba.loader.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.falconmamba.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/** The GGUF fixtures of {@code src/test/fixtures/gguf}: two models, each in several ggml type mixes. */
final class GgufFixtures {

    static final String FALCON = "gguf-falcon-mamba";
    static final String TIED = "gguf-mamba-tied";

    private GgufFixtures() {}

    static Path dir(String model) {
        return TestData.fixture("gguf").resolve(model);
    }

    static Path file(String model, String type) {
        return dir(model).resolve("model-" + type + ".gguf");
    }

    static JsonNode reference(String model) {
        try {
            return new ObjectMapper()
                    .readTree(dir(model).resolve("reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** (model, type) for every fixture file. */
    static Stream<Arguments> all() {
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of(FALCON, TIED)) {
            reference(model).get("types").fieldNames().forEachRemaining(t -> out.add(Arguments.of(model, t)));
        }
        return out.stream();
    }
}
