package io.falconmamba.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The lines of a compiled example between {@code // NAME-START} and {@code // NAME-END} marker comments, as a doc
 * quotes them: common indentation removed, each line ending in a newline. A doc test checks that the doc holds
 * {@link #javaFence()} verbatim, so the documented code is the code the tests compile and run.
 *
 * @param text the block's lines
 */
public record MarkedBlock(String text) {

    /** Reads the block named {@code name} from {@code source}. */
    public static MarkedBlock read(Path source, String name) {
        List<String> lines;
        try {
            lines = Files.readAllLines(source);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int start = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.equals("// " + name + "-START")) {
                if (start >= 0) {
                    throw new IllegalStateException(source + ": two " + name + "-START markers");
                }
                start = i;
            } else if (l.equals("// " + name + "-END")) {
                if (end >= 0) {
                    throw new IllegalStateException(source + ": two " + name + "-END markers");
                }
                end = i;
            }
        }
        if (start < 0 || end <= start) {
            throw new IllegalStateException(source + ": no " + name + "-START ... " + name + "-END block");
        }
        List<String> block = lines.subList(start + 1, end);
        int indent = block.stream()
                .filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length())
                .min()
                .orElse(0);
        StringBuilder sb = new StringBuilder();
        for (String l : block) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return new MarkedBlock(sb.toString());
    }

    /** Number of lines. */
    public int lineCount() {
        return (int) text.chars().filter(c -> c == '\n').count();
    }

    /** The block in a Markdown java fence, as docs quote it. */
    public String javaFence() {
        return "```java\n" + text + "```\n";
    }

    /** Whether {@code doc} quotes the block in a java fence. */
    public boolean isQuotedIn(Path doc) {
        try {
            return Files.readString(doc).contains(javaFence());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
