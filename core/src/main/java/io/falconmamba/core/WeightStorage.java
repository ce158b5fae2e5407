package io.falconmamba.core;

/**
 * Where the projection matrices live while the model runs (llama.cpp's {@code --mmap} / {@code --no-mmap}).
 */
public enum WeightStorage {

    /** Read in place from the mapped checkpoint: quick load, the OS shares and pages the file. */
    MAPPED,

    /**
     * Copied at load into anonymous off-heap memory, F16 and BF16 matrices repacked into tiles of rows stored
     * by column ({@code PackedMatrix}), which decode and few-token products stream as one contiguous run per
     * tile with no horizontal sums; a GGUF file's Q8_0 and Q4_0 blocks rearranged the same way
     * ({@code QuantizedMatrix}, the same scales and quants), its other block formats copied as stored.
     * Costs reading the whole checkpoint at load and a private copy; freed when the model closes. Matrices
     * quantized at load are always in memory, whatever this says.
     */
    IN_MEMORY,

    /**
     * The default: {@link #IN_MEMORY} when the checkpoint takes at least {@link #MIN_COPY} and at most half of the
     * memory the OS reports available ({@code MemAvailable}, bounded by a container's memory limit:
     * {@code FreeMemory}), {@link #MAPPED} otherwise or where that is unknown.
     * Decode reads every weight once per token, and reads from anonymous memory are steadier and faster than reads
     * from the page cache (see docs/performance.md); the half leaves room for the page cache and for other
     * processes, and a checkpoint too large for that is still served from the mapping. A checkpoint below
     * {@code MIN_COPY} is read from the CPU caches after its first token either way, so a copy would only delay the
     * start.
     */
    AUTO;

    /** The smallest checkpoint {@link #AUTO} copies: 64 MiB. */
    public static final long MIN_COPY = 64L << 20;

    /** What this storage means for a checkpoint of {@code weightBytes} bytes ({@code < 0}: unknown size). */
    public WeightStorage resolve(long weightBytes) {
        return this == AUTO ? resolve(weightBytes, FreeMemory.bytes()) : this;
    }

    /** {@link #AUTO}'s rule, for {@code availableBytes} of free memory ({@code < 0}: unknown). */
    static WeightStorage resolve(long weightBytes, long availableBytes) {
        return weightBytes >= MIN_COPY && availableBytes > 0 && weightBytes <= availableBytes / 2 ? IN_MEMORY : MAPPED;
    }
}
