/**
 * Reading Hugging Face checkpoints: safetensors files, shard indexes and {@code config.json}.
 *
 * <ul>
 *   <li>{@link io.falconmamba.loader.SafetensorsFile}: one file, memory-mapped, header validated strictly on open.
 *       Tensors are zero-copy views. Gaps between tensors and trailing bytes after the last one are tolerated
 *       (Python's safetensors rejects them); overlaps are not.</li>
 *   <li>{@link io.falconmamba.loader.Checkpoint}: a model directory (index + shards, one file, or every
 *       {@code *.safetensors} when neither exists) as a {@link io.falconmamba.core.WeightSource}.</li>
 *   <li>{@link io.falconmamba.loader.ModelConfig}: {@code config.json} with transformers' defaults.</li>
 *   <li>{@link io.falconmamba.loader.CheckpointValidator}: every tensor the config implies, with its shape.</li>
 *   <li>{@link io.falconmamba.loader.SafetensorsWriter}: writes files byte-identical to Python's safetensors.</li>
 * </ul>
 *
 * <p>Errors: {@link io.falconmamba.loader.SafetensorsException} (files, checkpoints, validation) and
 * {@link io.falconmamba.loader.ModelConfigException} (config.json), both unchecked
 * {@link java.lang.IllegalArgumentException}s whose message names the file and, where it applies, the tensor or
 * field. Using a closed file or checkpoint throws {@link java.lang.IllegalStateException}.
 */
package io.falconmamba.loader;
