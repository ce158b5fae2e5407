package io.falconmamba.core;

/**
 * How a prompt is pushed through the model. Both modes give the same state and logits.
 * <ul>
 *   <li>{@link Parallel}: the whole prompt as one T×d activation block; fastest, memory grows with T.</li>
 *   <li>{@link Chunked}: chunks of {@code c} tokens with the state carried between them; memory bounded by c.</li>
 * </ul>
 */
public sealed interface PrefillMode permits PrefillMode.Parallel, PrefillMode.Chunked {

    /** Chunk size used when none is given: large enough to keep the matrix kernels compute-bound. */
    int DEFAULT_CHUNK = 256;

    PrefillMode PARALLEL = new Parallel();

    static PrefillMode parallel() {
        return PARALLEL;
    }

    static PrefillMode chunked(int chunkSize) {
        return new Chunked(chunkSize);
    }

    /** Parses {@code parallel}, {@code chunked} or {@code chunked:C}. */
    static PrefillMode parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("prefill mode must not be null");
        }
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("parallel")) {
            return PARALLEL;
        }
        if (t.equals("chunked")) {
            return chunked(DEFAULT_CHUNK);
        }
        if (t.startsWith("chunked:")) {
            String c = t.substring("chunked:".length());
            try {
                return chunked(Integer.parseInt(c));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("prefill chunk size must be a positive integer, got '" + c + "'");
            }
        }
        throw new IllegalArgumentException(
                "prefill mode must be 'parallel', 'chunked' or 'chunked:C', got '" + text + "'");
    }

    /** The whole prompt in one pass. */
    record Parallel() implements PrefillMode {
        @Override
        public String toString() {
            return "parallel";
        }
    }

    /** Chunks of {@code chunkSize} tokens; 1 is token by token. */
    record Chunked(int chunkSize) implements PrefillMode {
        public Chunked {
            if (chunkSize < 1) {
                throw new IllegalArgumentException("prefill chunk size must be >= 1, got " + chunkSize);
            }
        }

        @Override
        public String toString() {
            return "chunked:" + chunkSize;
        }
    }
}
