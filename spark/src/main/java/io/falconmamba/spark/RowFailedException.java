package io.falconmamba.spark;

/** A row that could not be generated, in a job run with {@link GenerationOptions.Builder#failFast(boolean)}. */
public final class RowFailedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    RowFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
