package io.falconmamba.cli;

import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.generation.GenerationConfig;
import java.util.List;
import picocli.CommandLine.Option;

/** Sampling flags; each overrides the model's generation_config.json only when given. */
final class SamplingOptions {

    @Option(names = "--max-new-tokens", paramLabel = "N", description = "Tokens to generate at most.")
    Integer maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature; 0 means greedy.")
    Double temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens (0: off).")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass in (0, 1] (1: off).")
    Double topP;

    @Option(names = "--min-p", paramLabel = "P", description = "Drop tokens below P × the top probability (0: off).")
    Double minP;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "Penalty for tokens already seen (1: off).")
    Double repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", description = "Seed for reproducible sampling.")
    Long seed;

    @Option(
            names = "--stop",
            paramLabel = "TEXT",
            description = "Stop when the generated text contains TEXT (repeatable).")
    List<String> stop;

    @Option(names = "--ignore-eos", description = "Do not stop at the end-of-sequence token.")
    boolean ignoreEos;

    @Option(
            names = "--prefill",
            paramLabel = "MODE",
            description = "parallel, chunked or chunked:C (default: chunked:" + PrefillMode.DEFAULT_CHUNK + ").")
    String prefill;

    @Option(
            names = "--sample-padded-ids",
            description = "Let ids the tokenizer lacks (a padded vocabulary's extra rows) be sampled; they print as "
                    + "nothing. Default: never sampled.")
    boolean samplePaddedIds;

    /**
     * Checks every given flag on its own, by the rules {@link GenerationConfig} enforces, so a bad value is a usage
     * error before the model loads.
     */
    void validate() {
        GenerationConfig.Builder b = GenerationConfig.builder();
        if (maxNewTokens != null) {
            UsageException.check(
                    "--max-new-tokens", () -> b.maxNewTokens(maxNewTokens).build());
        }
        if (temperature != null) {
            UsageException.check(
                    "--temperature", () -> b.temperature(temperature).build());
        }
        if (topK != null) {
            UsageException.check("--top-k", () -> b.topK(topK).build());
        }
        if (topP != null) {
            UsageException.check("--top-p", () -> b.topP(topP).build());
        }
        if (minP != null) {
            UsageException.check("--min-p", () -> b.minP(minP).build());
        }
        if (repetitionPenalty != null) {
            UsageException.check(
                    "--repetition-penalty",
                    () -> b.repetitionPenalty(repetitionPenalty).build());
        }
        if (stop != null) {
            UsageException.check("--stop", () -> b.stopStrings(stop).build());
        }
        if (prefill != null) {
            UsageException.check("--prefill", () -> PrefillMode.parse(prefill));
        }
    }

    GenerationConfig apply(GenerationConfig defaults, int modelVocab) {
        GenerationConfig.Builder b = defaults.toBuilder();
        if (maxNewTokens != null) {
            b.maxNewTokens(maxNewTokens);
        }
        if (temperature != null) {
            b.temperature(temperature);
            b.doSample(temperature > 0);
        }
        if (topK != null) {
            b.topK(topK);
        }
        if (topP != null) {
            b.topP(topP);
        }
        if (minP != null) {
            b.minP(minP);
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (stop != null) {
            b.stopStrings(stop);
        }
        if (ignoreEos) {
            b.stopTokenIds(List.of());
        }
        if (prefill != null) {
            b.prefillMode(PrefillMode.parse(prefill));
        }
        if (samplePaddedIds) {
            b.vocabLimit(modelVocab);
        }
        return b.build();
    }
}
