package io.falconmamba.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Adds the Python {@code str} and {@code dict} methods that chat templates call ({@code
 * content.strip()}, {@code role.startswith('sys')}, {@code message.get('x', '')}, ...) to Jinjava,
 * which otherwise only offers Java's methods. Everything else goes to the delegate.
 */
final class PythonMethodsResolver extends ELResolver {
    private final ELResolver delegate;

    PythonMethodsResolver(ELResolver delegate) {
        this.delegate = delegate;
    }

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (method instanceof String name) {
            Object[] args = params == null ? new Object[0] : params;
            if (base instanceof String s) {
                Object r = stringMethod(s, name, args);
                if (r != NOT_HANDLED) {
                    context.setPropertyResolved(true);
                    return r;
                }
            } else if (base instanceof Map<?, ?> map) {
                Object r = mapMethod(map, name, args);
                if (r != NOT_HANDLED) {
                    context.setPropertyResolved(true);
                    return r;
                }
            }
        }
        return delegate.invoke(context, base, method, paramTypes, params);
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object mapMethod(Map<?, ?> map, String name, Object[] a) {
        switch (name) {
            case "items":
                if (a.length == 0) {
                    List<List<Object>> items = new ArrayList<>();
                    for (Map.Entry<?, ?> e : map.entrySet()) {
                        items.add(List.of(e.getKey(), e.getValue() == null ? "" : e.getValue()));
                    }
                    return items;
                }
                break;
            case "keys":
                if (a.length == 0) {
                    return new ArrayList<>(map.keySet());
                }
                break;
            case "values":
                if (a.length == 0) {
                    return new ArrayList<>(map.values());
                }
                break;
            case "get":
                if (a.length == 2) {
                    return map.containsKey(a[0]) ? map.get(a[0]) : a[1];
                }
                if (a.length == 1) {
                    return map.get(a[0]);
                }
                break;
            default:
                break;
        }
        return NOT_HANDLED;
    }

    private static Object stringMethod(String s, String name, Object[] a) {
        switch (name) {
            case "strip":
                return a.length == 0 || a[0] == null ? pyStrip(s, null, true, true) : pyStrip(s, str(a[0]), true, true);
            case "lstrip":
                return a.length == 0 || a[0] == null
                        ? pyStrip(s, null, true, false)
                        : pyStrip(s, str(a[0]), true, false);
            case "rstrip":
                return a.length == 0 || a[0] == null
                        ? pyStrip(s, null, false, true)
                        : pyStrip(s, str(a[0]), false, true);
            case "upper":
                return a.length == 0 ? s.toUpperCase(Locale.ROOT) : NOT_HANDLED;
            case "lower":
                return a.length == 0 ? s.toLowerCase(Locale.ROOT) : NOT_HANDLED;
            case "capitalize":
                return a.length == 0
                        ? s.isEmpty()
                                ? s
                                : s.substring(0, 1).toUpperCase(Locale.ROOT)
                                        + s.substring(1).toLowerCase(Locale.ROOT)
                        : NOT_HANDLED;
            case "title":
                return a.length == 0 ? title(s) : NOT_HANDLED;
            case "startswith":
                return a.length >= 1 ? affix(s, a[0], true) : NOT_HANDLED;
            case "endswith":
                return a.length >= 1 ? affix(s, a[0], false) : NOT_HANDLED;
            case "split":
                return split(s, a.length >= 1 ? a[0] : null, a.length >= 2 ? ((Number) a[1]).intValue() : -1);
            case "splitlines":
                return a.length == 0 ? splitLines(s) : NOT_HANDLED;
            case "replace":
                if (a.length == 2) {
                    return s.replace(str(a[0]), str(a[1]));
                }
                if (a.length == 3) {
                    return replaceCount(s, str(a[0]), str(a[1]), ((Number) a[2]).intValue());
                }
                return NOT_HANDLED;
            case "find":
                return a.length == 1 ? (long) s.indexOf(str(a[0])) : NOT_HANDLED;
            case "rfind":
                return a.length == 1 ? (long) s.lastIndexOf(str(a[0])) : NOT_HANDLED;
            case "count":
                return a.length == 1 ? (long) count(s, str(a[0])) : NOT_HANDLED;
            case "join":
                if (a.length == 1 && a[0] instanceof Collection<?> c) {
                    List<String> parts = new ArrayList<>();
                    for (Object o : c) {
                        parts.add(str(o));
                    }
                    return String.join(s, parts);
                }
                return NOT_HANDLED;
            case "removeprefix":
                return a.length == 1
                        ? (s.startsWith(str(a[0])) ? s.substring(str(a[0]).length()) : s)
                        : NOT_HANDLED;
            case "removesuffix":
                return a.length == 1 && !str(a[0]).isEmpty()
                        ? (s.endsWith(str(a[0]))
                                ? s.substring(0, s.length() - str(a[0]).length())
                                : s)
                        : a.length == 1 ? s : NOT_HANDLED;
            case "isspace":
                return a.length == 0 ? !s.isEmpty() && s.codePoints().allMatch(Character::isWhitespace) : NOT_HANDLED;
            case "isdigit":
                return a.length == 0 ? !s.isEmpty() && s.codePoints().allMatch(Character::isDigit) : NOT_HANDLED;
            case "isalpha":
                return a.length == 0 ? !s.isEmpty() && s.codePoints().allMatch(Character::isLetter) : NOT_HANDLED;
            case "isalnum":
                return a.length == 0
                        ? !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit)
                        : NOT_HANDLED;
            case "islower":
                return a.length == 0
                        ? s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT))
                        : NOT_HANDLED;
            case "isupper":
                return a.length == 0
                        ? s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT))
                        : NOT_HANDLED;
            default:
                return NOT_HANDLED;
        }
    }

    private static String str(Object o) {
        return o == null ? "None" : o.toString();
    }

    private static boolean isPyWhitespace(int c) {
        return Character.isWhitespace(c)
                || Character.isSpaceChar(c)
                || c == 0x1c
                || c == 0x1d
                || c == 0x1e
                || c == 0x1f
                || c == 0x85;
    }

    static String pyStrip(String s, String chars, boolean left, boolean right) {
        int start = 0;
        int end = s.length();
        if (left) {
            while (start < end) {
                int c = s.codePointAt(start);
                if (chars == null ? !isPyWhitespace(c) : chars.indexOf(c) < 0) {
                    break;
                }
                start += Character.charCount(c);
            }
        }
        if (right) {
            while (end > start) {
                int c = s.codePointBefore(end);
                if (chars == null ? !isPyWhitespace(c) : chars.indexOf(c) < 0) {
                    break;
                }
                end -= Character.charCount(c);
            }
        }
        return s.substring(start, end);
    }

    private static boolean affix(String s, Object arg, boolean prefix) {
        if (arg instanceof Collection<?> options) {
            for (Object o : options) {
                if (prefix ? s.startsWith(str(o)) : s.endsWith(str(o))) {
                    return true;
                }
            }
            return false;
        }
        return prefix ? s.startsWith(str(arg)) : s.endsWith(str(arg));
    }

    private static List<String> split(String s, Object sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) { // runs of whitespace, no empty strings
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && isPyWhitespace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(pyStrip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isPyWhitespace(s.charAt(j))) {
                    j++;
                }
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        String d = str(sep);
        if (d.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int k = s.indexOf(d, from);
            if (k < 0) {
                break;
            }
            out.add(s.substring(from, k));
            from = k + d.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<String> splitLines(String s) {
        List<String> out = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r') {
                out.add(s.substring(start, i));
                i += (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') ? 2 : 1;
                start = i;
            } else {
                i++;
            }
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    private static String replaceCount(String s, String old, String rep, int count) {
        if (count < 0) {
            return s.replace(old, rep);
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (int n = 0; n < count; n++) {
            int k = s.indexOf(old, from);
            if (k < 0 || old.isEmpty()) {
                break;
            }
            sb.append(s, from, k).append(rep);
            from = k + old.length();
        }
        return sb.append(s.substring(from)).toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int k = s.indexOf(sub); k >= 0; k = s.indexOf(sub, k + sub.length())) {
            n++;
        }
        return n;
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return sb.toString();
    }

    // ---- plain delegation ----

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return delegate.getCommonPropertyType(context, base);
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return delegate.getFeatureDescriptors(context, base);
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return delegate.getType(context, base, property);
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return delegate.getValue(context, base, property);
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return delegate.isReadOnly(context, base, property);
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        delegate.setValue(context, base, property, value);
    }
}
