package io.falconmamba.core;

/**
 * Where the projection matrices live while the model runs (llama.cpp's {@code --mmap} / {@code --no-mmap}).
 */
public enum WeightStorage {

    /** Read in place from the mapped checkpoint: instant load, the OS shares and pages the file. The default. */
    MAPPED,

    /**
     * Copied at load into anonymous off-heap memory, F16 and BF16 matrices repacked into tiles of rows stored
     * by column ({@code PackedMatrix}), which decode and few-token products stream as one contiguous run per
     * tile with no horizontal sums; a GGUF file's Q8_0 and Q4_0 blocks rearranged the same way
     * ({@code QuantizedMatrix}, the same scales and quants). The GGUF file's other block formats stay mapped.
     * Costs reading the whole checkpoint at load and a private copy; freed when the model closes. Matrices
     * quantized at load are always in memory, whatever this says.
     */
    IN_MEMORY
}
