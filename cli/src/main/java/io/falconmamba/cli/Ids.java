package io.falconmamba.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Token id lists as the command line takes them: {@code 1,2,3} (commas and/or whitespace). */
final class Ids {

    private Ids() {}

    static int[] parse(String text, String what) {
        String t = text.trim();
        if (t.startsWith("[") && t.endsWith("]")) {
            t = t.substring(1, t.length() - 1);
        }
        String[] parts = t.split("[,\\s]+");
        int[] out = new int[parts.length];
        int n = 0;
        for (String p : parts) {
            if (p.isEmpty()) {
                continue;
            }
            try {
                out[n++] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        what + ": '" + p + "' is not a token id (expected integers like 1,2,3)");
            }
        }
        if (n == 0) {
            throw new IllegalArgumentException(what + " is empty: give at least one token id");
        }
        return Arrays.copyOf(out, n);
    }

    static int[] readFile(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), "ids file " + file);
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
