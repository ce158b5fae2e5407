package io.falconmamba.cli;

/** A flag or argument the user got wrong: one line and exit code 2, checked before any model is loaded. */
final class UsageException extends RuntimeException {

    UsageException(String message) {
        super(message);
    }

    /** Runs a check that throws {@link IllegalArgumentException}, reporting its message as a usage error of {@code flag}. */
    static <T> T check(String flag, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": " + e.getMessage());
        }
    }
}
