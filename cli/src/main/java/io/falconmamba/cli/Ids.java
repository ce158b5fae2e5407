package io.falconmamba.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Token id lists as the command line takes them: {@code 1,2,3} (commas and/or whitespace, optionally in brackets);
 * an empty entry ({@code 1,,2}) is an error, not skipped.
 */
final class Ids {

    private Ids() {}

    /**
     * Parses a list of non-negative ids.
     *
     * @throws UsageException naming {@code what} and the offending entry
     */
    static int[] parse(String text, String what) {
        String t = text.strip();
        if (t.startsWith("[") && t.endsWith("]")) {
            t = t.substring(1, t.length() - 1).strip();
        }
        if (t.isEmpty()) {
            throw new UsageException(what + " is empty: give at least one token id");
        }
        String[] parts = t.split("\\s*,\\s*|\\s+", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (p.isEmpty()) {
                throw new UsageException(what + ": entry " + (i + 1) + " is empty (expected integers like 1,2,3)");
            }
            try {
                out[i] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new UsageException(what + ": '" + p + "' is not a token id (expected integers like 1,2,3)");
            }
            if (out[i] < 0) {
                throw new UsageException(what + ": token ids are >= 0, got " + out[i]);
            }
        }
        return out;
    }

    /** Reads and parses an ids file; a bad file is an input error (exit 1), not a usage error. */
    static int[] readFile(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), "ids file " + file);
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read ids file " + file + ": " + Errors.describe(e));
        }
    }

    static String json(int[] ids) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < ids.length; i++) {
            b.append(i == 0 ? "" : ", ").append(ids[i]);
        }
        return b.append(']').toString();
    }
}
