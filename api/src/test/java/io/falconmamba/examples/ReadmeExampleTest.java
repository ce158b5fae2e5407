package io.falconmamba.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README example compiles (it is in this source set) and prints the demo model's reference continuation. */
class ReadmeExampleTest {

    @Test
    void runsAndPrintsTheReferenceContinuation() {
        JsonNode ref = TestModels.json(TestModels.demo().resolve("demo-reference.json"))
                .get("references")
                .get(0);
        assertEquals("In the beginning", ref.get("prompt").asText());
        String expected = ref.get("text").asText();

        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            System.setOut(out);
            ReadmeExample.main(new String[] {TestModels.demo().toString()});
        } finally {
            System.setOut(original);
        }
        String printed = captured.toString(StandardCharsets.UTF_8);
        assertTrue(printed.startsWith(expected + System.lineSeparator() + "[48 tokens, LENGTH]"), printed);
        // The session's two turns: the second reference prompt's continuation starts the last part.
        String second = TestModels.json(TestModels.demo().resolve("demo-reference.json"))
                .get("references")
                .get(1)
                .get("text")
                .asText();
        assertTrue(printed.contains(second.substring(0, 20)), printed);
        assertTrue(printed.contains("\nAnd Moses said,"), printed);
    }

    /** The block the README quotes: present once, short, and free of test-only helpers. */
    @Test
    void markedBlockIsQuotable() throws IOException {
        Path source = Path.of("src/test/java/io/falconmamba/examples/ReadmeExample.java");
        List<String> lines = Files.readAllLines(source);
        int start = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).strip().equals("// README-EXAMPLE-START")) {
                assertEquals(-1, start, "one start marker");
                start = i;
            } else if (lines.get(i).strip().equals("// README-EXAMPLE-END")) {
                assertEquals(-1, end, "one end marker");
                end = i;
            }
        }
        assertTrue(start >= 0 && end > start, "markers present and in order");
        List<String> block = lines.subList(start + 1, end);
        assertTrue(block.size() <= 30, "short enough to read in a README: " + block.size() + " lines");
        for (String line : block) {
            assertTrue(!line.contains("TestModels") && !line.contains("withThreads"), line);
        }
    }
}
