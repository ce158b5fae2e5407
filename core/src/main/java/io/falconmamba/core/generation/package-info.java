/**
 * Text generation on a {@link io.falconmamba.core.FalconMambaModel}, in token ids (no tokenizer here).
 *
 * <ul>
 *   <li>{@link io.falconmamba.core.generation.GenerationConfig}: what to generate (greedy or sampling with
 *       temperature, top-k, top-p, min-p, repetition penalty, seed; stop tokens; length; prefill mode), with
 *       Hugging Face semantics and {@code generation_config.json} import.</li>
 *   <li>{@link io.falconmamba.core.generation.Generator}: one prompt → one {@link io.falconmamba.core.generation.GenerationResult}.</li>
 *   <li>{@link io.falconmamba.core.generation.Session}: a conversation that keeps its state between turns, can be
 *       forked and snapshotted.</li>
 *   <li>{@link io.falconmamba.core.generation.BatchGenerator}: many sequences decoded together, one weight read per
 *       step for all of them.</li>
 *   <li>Hooks: {@link io.falconmamba.core.generation.TokenListener} (streaming),
 *       {@link io.falconmamba.core.generation.StopCondition} (stop strings from the tokenizer layer),
 *       {@link io.falconmamba.core.generation.CancellationToken}.</li>
 * </ul>
 *
 * <p>The logits processors (package-private, one per class: {@code RepetitionPenalty}, {@code Temperature},
 * {@code TopK}, {@code TopP}, {@code MinP}, {@code Greedy}, {@code Categorical}) work on a reused candidate set
 * ({@code Candidates}): no full sort of the vocabulary and no allocation per token.
 */
package io.falconmamba.core.generation;
