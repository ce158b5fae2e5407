package io.falconmamba;

import io.falconmamba.core.generation.GenerationConfig;
import java.util.List;
import java.util.Objects;

/**
 * The sampling parameters chat APIs put in a request (OpenAI, LangChain4j, Spring AI), each optional: what a request
 * leaves {@code null} keeps the value of the configuration it is applied to, normally the checkpoint's
 * {@link FalconMamba#defaults()}.
 *
 * @param temperature     0 decodes greedily; a positive temperature samples (whatever the checkpoint's do_sample)
 * @param topP            nucleus sampling mass
 * @param topK            most likely tokens kept
 * @param maxOutputTokens most tokens to generate
 * @param stopSequences   strings that end the reply (replacing the configuration's)
 * @param seed            sampling seed
 */
public record RequestParameters(
        Double temperature, Double topP, Integer topK, Integer maxOutputTokens, List<String> stopSequences, Long seed) {

    public RequestParameters {
        stopSequences = stopSequences == null ? null : List.copyOf(stopSequences);
    }

    /**
     * {@code config} with this request's parameters set.
     *
     * @throws IllegalArgumentException naming the parameter when a value is out of range
     */
    public GenerationConfig applyTo(GenerationConfig config) {
        Objects.requireNonNull(config, "config");
        GenerationConfig.Builder b = config.toBuilder();
        if (temperature != null) {
            if (temperature == 0) {
                b.doSample(false);
            } else {
                b.doSample(true).temperature(temperature);
            }
        }
        if (topP != null) {
            b.topP(topP);
        }
        if (topK != null) {
            b.topK(topK);
        }
        if (maxOutputTokens != null) {
            b.maxNewTokens(maxOutputTokens);
        }
        if (stopSequences != null) {
            b.stopStrings(stopSequences);
        }
        if (seed != null) {
            b.seed(seed);
        }
        return b.build();
    }
}
