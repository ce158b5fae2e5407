package io.falconmamba.tokenizer;

/**
 * Source rewrites for Jinja constructs that Jinjava lacks.
 *
 * <p>Loop filters, {@code {% for x in xs if cond %}}: Jinjava ignores the filter (it parses
 * {@code xs if cond} as a conditional expression). Jinja filters before looping, so {@code loop.*}
 * counts only the kept items; the rewrite keeps that by building the filtered list first:
 * {@code {% set _lfN = [] %}{% for x in xs %}{% if cond %}{% do _lfN.append(x) %}{% endif %}{% endfor %}{% for x in _lfN %}}.
 *
 * <p>Reversing slices, {@code name[::-1]} (as in "for message in messages[::-1]"): Jinjava has no
 * step slices; a dotted name followed by {@code [::-1]} becomes {@code (name|reverse|list)}.
 */
final class TemplateRewriter {
    private TemplateRewriter() {}

    private static final java.util.regex.Pattern REVERSE_SLICE =
            java.util.regex.Pattern.compile("(?<![\\w.\\])])([A-Za-z_][A-Za-z0-9_.]*)\\[\\s*:\\s*:\\s*-1\\s*\\]");

    static String rewrite(String template) {
        String src = REVERSE_SLICE.matcher(template).replaceAll("($1|reverse|list)");
        StringBuilder out = new StringBuilder(src.length() + 64);
        int counter = 0;
        int pos = 0;
        while (true) {
            int open = src.indexOf("{%", pos);
            if (open < 0) {
                out.append(src, pos, src.length());
                return out.toString();
            }
            int close = src.indexOf("%}", open + 2);
            if (close < 0) {
                out.append(src, pos, src.length());
                return out.toString();
            }
            String inner = src.substring(open + 2, close);
            String leftTrim = inner.startsWith("-") ? "-" : inner.startsWith("+") ? "+" : "";
            String rightTrim = inner.endsWith("-") ? "-" : inner.endsWith("+") ? "+" : "";
            String body = inner.substring(leftTrim.length(), inner.length() - rightTrim.length())
                    .strip();
            String rewritten = null;
            if (body.startsWith("for ") || body.startsWith("for\t")) {
                int in = topLevel(body, " in ", 4);
                int cond = in < 0 ? -1 : topLevel(body, " if ", in + 4);
                if (in > 0 && cond > 0 && !body.substring(cond).contains(" recursive")) {
                    String target = body.substring(4, in).strip();
                    String iterable = body.substring(in + 4, cond).strip();
                    String condition = body.substring(cond + 4).strip();
                    String list = "_loop_filter_" + counter++;
                    String item = target.contains(",") ? "[" + target + "]" : target;
                    rewritten = "{%" + leftTrim + " set " + list + " = [] %}"
                            + "{% for " + target + " in " + iterable + " %}{% if " + condition + " %}"
                            + "{% do " + list + ".append(" + item + ") %}{% endif %}{% endfor %}"
                            + "{% for " + target + " in " + list + " " + rightTrim + "%}";
                }
            }
            out.append(src, pos, open);
            out.append(rewritten != null ? rewritten : src.substring(open, close + 2));
            pos = close + 2;
        }
    }

    /** Index of {@code word} in {@code s} from {@code from}, outside quotes and brackets; -1 if none. */
    private static int topLevel(String s, String word, int from) {
        int depth = 0;
        char quote = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (depth == 0 && s.startsWith(word, i)) {
                return i;
            }
        }
        return -1;
    }
}
