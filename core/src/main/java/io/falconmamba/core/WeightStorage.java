package io.falconmamba.core;

/**
 * Where the projection matrices live while the model runs (llama.cpp's {@code --mmap} / {@code --no-mmap}).
 */
public enum WeightStorage {

    /** Read in place from the mapped checkpoint: instant load, the OS shares and pages the file. The default. */
    MAPPED,

    /**
     * Copied at load into anonymous off-heap memory. Decode streams these faster than the mapped page-cache
     * pages (fm-1.4b on the project's machine: 21 → 24 GB/s over the layer stack, decode +10–18 %), at the cost
     * of reading the whole checkpoint at load and holding a private copy. Freed when the model closes.
     * Quantized matrices are always in memory, whatever this says.
     */
    IN_MEMORY
}
