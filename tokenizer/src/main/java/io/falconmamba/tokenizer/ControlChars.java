package io.falconmamba.tokenizer;

/**
 * Carries C0 control characters through Jinjava unchanged. Its Python-style value printer writes them as
 * {@code \\u001B} escapes, which would make a rendered conversation differ from the text a model saw. Each one
 * is swapped for a code point of Supplementary Private Use Area-B (U+100000 + c) before rendering and back after;
 * a code point of that small reserved range that the text itself contains is kept behind an escape mark.
 */
final class ControlChars {

    private static final int BASE = 0x100000;
    /** Marks that the next code point is the text's own, not a hidden control character. */
    private static final int ESCAPE = BASE + 0x3F;

    private ControlChars() {}

    static String hide(String text) {
        if (text == null || text.codePoints().noneMatch(c -> isControl(c) || isReserved(c))) {
            return text;
        }
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(c -> {
            if (isControl(c)) {
                sb.appendCodePoint(BASE + c);
            } else {
                if (isReserved(c)) {
                    sb.appendCodePoint(ESCAPE);
                }
                sb.appendCodePoint(c);
            }
        });
        return sb.toString();
    }

    static String restore(String text) {
        if (text.indexOf('\uDBC0') < 0) { // the high surrogate of U+100000..U+1003FF
            return text;
        }
        StringBuilder sb = new StringBuilder(text.length());
        int[] cps = text.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            int c = cps[i];
            if (c == ESCAPE && i + 1 < cps.length) {
                sb.appendCodePoint(cps[++i]);
            } else if (c >= BASE && c < BASE + 0x20) {
                sb.append((char) (c - BASE));
            } else {
                sb.appendCodePoint(c);
            }
        }
        return sb.toString();
    }

    private static boolean isControl(int c) {
        return c < 0x20 && c != '\n' && c != '\t' && c != '\r';
    }

    private static boolean isReserved(int c) {
        return c >= BASE && c <= ESCAPE;
    }
}
