/**
 * GGUF, llama.cpp's one-file model format: {@link io.falconmamba.loader.gguf.GgufFile} reads versions 2 and 3
 * (strictly validated, memory-mapped, zero-copy), {@link io.falconmamba.loader.gguf.GgmlType} names every ggml
 * tensor type by id, {@link io.falconmamba.loader.gguf.Dequantizer} decodes the supported block types (the scalar
 * reference the engine's kernels are tested against), {@link io.falconmamba.loader.gguf.GgufModelConfig} and
 * {@link io.falconmamba.loader.gguf.GgufWeights} present architecture {@code mamba} as the engine's config and
 * weights, and {@link io.falconmamba.loader.gguf.GgufWriter} with
 * {@link io.falconmamba.loader.gguf.GgufConverter} write files in llama.cpp's layout.
 */
package io.falconmamba.loader.gguf;
