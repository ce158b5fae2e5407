package io.falconmamba.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Paths and reference data of the shared fixtures (root from the fixtures.root system property). */
final class Fixtures {
    private Fixtures() {}

    static final ObjectMapper JSON = new ObjectMapper();

    static Path root() {
        return io.falconmamba.testkit.TestData.root();
    }

    /** fixtures/tokenizer: tokenizer.json + tokenizer_config.json + a separate chat_template.jinja. */
    static Path tokenizerDir() {
        return root().resolve("fixtures/tokenizer");
    }

    /** A tiny model folder: the same tokenizer with the template inline in tokenizer_config.json. */
    static Path modelDir() {
        return root().resolve("fixtures/tiny-falcon-mamba");
    }

    /** The demo model: its own tokenizer, no chat template. */
    static Path demoDir() {
        return root().resolve("models/demo-kjv");
    }

    static JsonNode reference() {
        try {
            return JSON.readTree(
                    root().resolve("fixtures/tokenizer-reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<ChatMessage> messages(JsonNode array) {
        List<ChatMessage> out = new ArrayList<>();
        array.forEach(n ->
                out.add(new ChatMessage(n.get("role").asText(), n.get("content").asText())));
        return out;
    }

    static Path copyTokenizerTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.copy(tokenizerDir().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }
}
