package io.falconmamba.core;

/**
 * Where a model's weights come from, by Hugging Face tensor name (e.g. {@code backbone.layers.0.mixer.in_proj.weight}).
 * The loader implements it over safetensors files; tests can implement it over plain memory.
 */
public interface WeightSource {

    /** Whether a tensor of that name exists. */
    boolean contains(String name);

    /**
     * The tensor of that name, viewed in place.
     *
     * @throws IllegalArgumentException naming the tensor when it is absent or not a float type the engine reads
     */
    Tensor tensor(String name);

    /**
     * Bytes the weights take where they are stored (the checkpoint's files), which {@link WeightStorage#AUTO}
     * weighs against free memory; -1 when unknown.
     */
    default long byteSize() {
        return -1;
    }

    /**
     * Told that a copy made at load replaces the bytes of {@code data} (a tensor's data from this source): a source
     * over mapped files drops those pages from this process's mapping, so they are not counted twice in its
     * resident memory (they stay in the page cache). The default does nothing, as a source over plain memory must.
     */
    default void released(java.lang.foreign.MemorySegment data) {}
}
