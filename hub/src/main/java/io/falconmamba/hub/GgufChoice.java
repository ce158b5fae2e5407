package io.falconmamba.hub;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which GGUF file of a repository to use: the one named, or the one whose file name carries a quantization type
 * (e.g. {@code Q4_K_M} picks {@code falcon-mamba-7b-Q4_K_M.gguf}, not {@code ...-Q4_K_S.gguf}), or the only one.
 *
 * @param fileName the file's name (path inside the repository), or {@code null}
 * @param type     a type as llama-quantize names files ({@code Q8_0}, {@code Q4_K_M}, {@code BF16}), or {@code null}
 */
public record GgufChoice(String fileName, String type) {

    /** Any single GGUF file. */
    public static GgufChoice any() {
        return new GgufChoice(null, null);
    }

    /**
     * Picks among a repository's files.
     *
     * @param repo names the repository in messages
     * @throws HubException listing the repository's GGUF files when none or several fit
     */
    String pick(String repo, List<String> files) {
        List<String> gguf = new ArrayList<>();
        for (String f : files) {
            if (f.toLowerCase(Locale.ROOT).endsWith(".gguf")) {
                gguf.add(f);
            }
        }
        String holds = gguf.isEmpty() ? "it holds no .gguf file" : "it holds " + String.join(", ", gguf);
        if (fileName != null) {
            if (gguf.contains(fileName)) {
                return fileName;
            }
            throw new HubException(
                    HubException.Reason.NOT_FOUND, repo + " has no GGUF file '" + fileName + "': " + holds);
        }
        List<String> fit = new ArrayList<>();
        for (String f : gguf) {
            if (type == null || hasType(f, type)) {
                fit.add(f);
            }
        }
        if (fit.size() == 1) {
            return fit.get(0);
        }
        String what = type == null ? "GGUF file" : "GGUF file of type " + type;
        if (fit.isEmpty()) {
            throw new HubException(HubException.Reason.NOT_FOUND, repo + " has no " + what + ": " + holds);
        }
        throw new HubException(
                HubException.Reason.INVALID_ID,
                repo + " holds several candidates for one " + what + " (" + String.join(", ", fit)
                        + "): name one with --gguf-file" + (type == null ? " or pick a type with --quant" : ""));
    }

    /** Whether the file name carries the type as a whole word ({@code -Q4_K_M.}, {@code .q8_0.}, case-insensitive). */
    static boolean hasType(String file, String type) {
        String name = file.substring(file.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
        String t = type.toLowerCase(Locale.ROOT);
        int from = 0;
        while (true) {
            int i = name.indexOf(t, from);
            if (i < 0) {
                return false;
            }
            boolean before = i == 0 || !Character.isLetterOrDigit(name.charAt(i - 1)) && name.charAt(i - 1) != '_';
            int end = i + t.length();
            boolean after =
                    end < name.length() && !Character.isLetterOrDigit(name.charAt(end)) && name.charAt(end) != '_';
            if (before && after) {
                return true;
            }
            from = i + 1;
        }
    }
}
