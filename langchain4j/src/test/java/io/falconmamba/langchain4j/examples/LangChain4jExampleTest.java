package io.falconmamba.langchain4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.testkit.MarkedBlock;
import io.falconmamba.testkit.TestData;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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
    void theDocAndTheReadmeQuoteTheExampleVerbatim() {
        MarkedBlock block = MarkedBlock.read(SOURCE, "LANGCHAIN4J-EXAMPLE");
        assertTrue(block.lineCount() <= 25, "short enough for a README: " + block.lineCount() + " lines");
        Path doc = TestData.root().getParent().getParent().resolve("docs").resolve("langchain4j.md");
        assertTrue(block.isQuotedIn(doc), doc + " must quote, in a java fence:\n" + block.text());
        Path readme = TestData.root().getParent().getParent().resolve("README.md");
        assertTrue(block.isQuotedIn(readme), readme + " must quote, in a java fence:\n" + block.text());
    }
}
