package io.falconmamba.cli;

import java.io.FileNotFoundException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/** One line for an error a user can act on; the stack trace only with --verbose. */
final class Errors {

    private Errors() {}

    static String describe(Throwable e) {
        Throwable t = e instanceof UncheckedIOException u ? u.getCause() : e;
        if (t instanceof NoSuchFileException n) {
            return "no such file: " + n.getFile();
        }
        if (t instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        if (t instanceof FileNotFoundException f) {
            return f.getMessage();
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        }
        return m.replace('\n', ' ');
    }
}
