package io.falconmamba.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.Completion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README's API tour runs, and the README shows exactly the code that ran. */
class ReadmeTourTest {

    static final Path SRC = io.falconmamba.testkit.TestData.root();
    static final Path REPO = SRC.getParent().getParent();

    @Test
    void tourRunsOnAChatModel() {
        List<Completion> out =
                ReadmeTour.run(SRC.resolve("fixtures/tiny-falcon-mamba").toString());
        for (Completion c : out) {
            assertTrue(c.ids().length > 0, "every call generated something");
        }
        // A session restored from the system-prompt snapshot answers exactly as the original did (same seed).
        assertArrayEquals(out.get(2).ids(), out.get(3).ids());
    }

    @Test
    void readmeQuotesTheCodeThatRuns() throws IOException {
        String readme = Files.readString(REPO.resolve("README.md"));
        String tour = block(
                Files.readString(REPO.resolve("api/src/test/java/io/falconmamba/examples/ReadmeTour.java")),
                "// README-TOUR-START",
                "// README-TOUR-END");
        assertTrue(
                readme.contains(tour), "README.md must contain the tour exactly as ReadmeTour.java has it:\n" + tour);
        String example = block(
                Files.readString(REPO.resolve("api/src/test/java/io/falconmamba/examples/ReadmeExample.java")),
                "// README-EXAMPLE-START",
                "// README-EXAMPLE-END");
        assertTrue(
                readme.contains(example.indent(8).replaceAll("(?m)^ +$", "")),
                "README.md must contain the example exactly as ReadmeExample.java has it:\n" + example);
    }

    /** The lines between two markers, de-indented. */
    static String block(String source, String start, String end) {
        int a = source.indexOf(start);
        int b = source.indexOf(end);
        assertTrue(a >= 0 && b > a, "markers " + start + " / " + end + " not found");
        String[] lines = source.substring(source.indexOf('\n', a) + 1, source.lastIndexOf('\n', b))
                .split("\n");
        int indent = Integer.MAX_VALUE;
        for (String l : lines) {
            if (!l.isBlank()) {
                indent = Math.min(indent, l.length() - l.stripLeading().length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        assertEquals(false, sb.isEmpty());
        return sb.toString();
    }
}
