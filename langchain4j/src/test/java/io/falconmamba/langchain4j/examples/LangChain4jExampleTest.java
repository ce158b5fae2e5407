package io.falconmamba.langchain4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.testkit.TestData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The documented example runs, prints what the engine gives, and docs/langchain4j.md quotes it exactly. */
class LangChain4jExampleTest {

    private static final Path SOURCE =
            Path.of("src/test/java/io/falconmamba/langchain4j/examples/LangChain4jExample.java");

    @Test
    void printsTheEnginesReplies() {
        String first;
        String second;
        try (FalconMamba demo =
                FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1))) {
            var greedy =
                    demo.defaults().toBuilder().doSample(false).maxNewTokens(32).build();
            first = demo.generate("In the beginning", greedy).text();
            second = demo.generate("In the beginning" + first + "\nAnd God said,", greedy)
                    .text();
        }
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            System.setOut(out);
            LangChain4jExample.main(new String[] {TestData.demoModel().toString()});
        } finally {
            System.setOut(original);
        }
        String nl = System.lineSeparator();
        assertEquals(first + nl + second + nl, captured.toString(StandardCharsets.UTF_8));
    }

    @Test
    void theDocQuotesTheExampleVerbatim() throws IOException {
        String block = markedBlock(SOURCE, "LANGCHAIN4J-EXAMPLE");
        Path doc = TestData.root().getParent().getParent().resolve("docs").resolve("langchain4j.md");
        String text = Files.readString(doc);
        assertTrue(
                text.contains("```java\n" + block + "```\n"),
                "docs/langchain4j.md must quote, in a java fence:\n" + block);
    }

    /**
     * The lines between {@code // NAME-START} and {@code // NAME-END}, their common indentation removed, each ending
     * in a newline.
     */
    static String markedBlock(Path source, String name) throws IOException {
        List<String> lines = Files.readAllLines(source);
        int start = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.equals("// " + name + "-START")) {
                assertEquals(-1, start, "one start marker");
                start = i;
            } else if (l.equals("// " + name + "-END")) {
                assertEquals(-1, end, "one end marker");
                end = i;
            }
        }
        assertTrue(start >= 0 && end > start, "markers present and in order");
        List<String> block = lines.subList(start + 1, end);
        assertTrue(block.size() <= 25, "short enough for a README: " + block.size() + " lines");
        int indent = block.stream()
                .filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length())
                .min()
                .orElse(0);
        StringBuilder sb = new StringBuilder();
        for (String l : block) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return sb.toString();
    }
}
