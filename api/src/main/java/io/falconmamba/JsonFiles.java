package io.falconmamba;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Reading small JSON files (generation_config.json) into plain maps. */
final class JsonFiles {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonFiles() {}

    static Map<String, Object> readObject(Path file) throws IOException {
        return MAPPER.readValue(file.toFile(), new TypeReference<Map<String, Object>>() {});
    }
}
