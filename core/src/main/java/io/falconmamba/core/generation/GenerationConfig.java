package io.falconmamba.core.generation;

import io.falconmamba.core.PrefillMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;

/**
 * How to pick the tokens of one generation: an immutable value, built with {@link #builder()} and validated at
 * {@link Builder#build()} (an {@link IllegalArgumentException} names the parameter and the value). Being immutable,
 * one config may be shared by any number of threads; a {@link Builder} belongs to one.
 *
 * <p>The semantics follow Hugging Face transformers' {@code generate}:
 * <ul>
 *   <li>{@code doSample == false} (the default) is greedy decoding whatever the temperature, top-k, top-p and min-p;
 *       {@code temperature == 0} is greedy too.</li>
 *   <li>The logits pass, in this order, through the repetition penalty (greedy and sampling), then (sampling only)
 *       temperature, top-k, top-p and min-p, as in transformers' {@code _get_logits_processor}; then one token is
 *       drawn from the renormalised distribution with a generator seeded from {@link #seed()}.</li>
 *   <li>A value that switches a step off leaves it out: temperature 1, top-k 0, top-p 1, min-p 0, penalty 1.</li>
 * </ul>
 *
 * <p>Stop rules: a token in {@link #stopTokenIds()} (eos; the caller layer fills it from
 * {@code generation_config.json}), a {@link StopCondition} (how the layer that owns a tokenizer implements
 * {@link #stopStrings()}), {@link #maxNewTokens()}, or a {@link CancellationToken}.
 */
public final class GenerationConfig {

    /** Tokens generated at most when not set. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 256;

    private static final GenerationConfig DEFAULTS = builder().build();

    private final int maxNewTokens;
    private final float temperature;
    private final int topK;
    private final float topP;
    private final float minP;
    private final float repetitionPenalty;
    private final boolean hasSeed;
    private final long seed;
    private final boolean doSample;
    private final Set<Integer> stopTokenIds;
    private final int[] stopTokenIdArray;
    private final List<String> stopStrings;
    private final PrefillMode prefillMode;
    private final int vocabLimit;

    private GenerationConfig(Builder b) {
        this.maxNewTokens = b.maxNewTokens;
        this.temperature = (float) b.temperature;
        this.topK = b.topK;
        this.topP = (float) b.topP;
        this.minP = (float) b.minP;
        this.repetitionPenalty = (float) b.repetitionPenalty;
        this.hasSeed = b.hasSeed;
        this.seed = b.seed;
        this.doSample = b.doSample;
        this.stopTokenIds = Collections.unmodifiableSet(new TreeSet<>(b.stopTokenIds));
        this.stopTokenIdArray =
                this.stopTokenIds.stream().mapToInt(Integer::intValue).toArray();
        this.stopStrings = List.copyOf(b.stopStrings);
        this.prefillMode = b.prefillMode;
        this.vocabLimit = b.vocabLimit;
    }

    /** The default configuration: greedy, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, no stop token. */
    public static GenerationConfig defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.hasSeed = hasSeed;
        b.seed = seed;
        b.doSample = doSample;
        b.stopTokenIds.addAll(stopTokenIds);
        b.stopStrings.addAll(stopStrings);
        b.prefillMode = prefillMode;
        b.vocabLimit = vocabLimit;
        return b;
    }

    /**
     * A configuration from the values of a parsed {@code generation_config.json}, starting from Hugging Face's own
     * defaults for absent keys (notably {@code top_k = 50}, which matters once {@code do_sample} is true). See
     * {@link Builder#applyHuggingFace(Map)} for the keys read.
     */
    public static GenerationConfig fromHuggingFace(Map<String, ?> values) {
        return huggingFaceDefaults().applyHuggingFace(values).build();
    }

    /** A builder with Hugging Face's defaults: like {@link #builder()} but {@code top_k = 50}. */
    public static Builder huggingFaceDefaults() {
        return builder().topK(50);
    }

    /** Most new tokens to generate (the stop token, when one is generated, counts). */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    public float temperature() {
        return temperature;
    }

    /** 0 = off. */
    public int topK() {
        return topK;
    }

    /** 1 = off. */
    public float topP() {
        return topP;
    }

    /** 0 = off. */
    public float minP() {
        return minP;
    }

    /** 1 = off. */
    public float repetitionPenalty() {
        return repetitionPenalty;
    }

    /**
     * The seed of the sampling generator, when one was set: every generation call (including each
     * {@link Session#generate} call) starts a {@link java.util.SplittableRandom} from it, so the same context and
     * configuration give the same tokens, run after run, alone or in a batch. Without one each call draws a fresh
     * seed. Greedy decoding uses no randomness.
     */
    public OptionalLong seed() {
        return hasSeed ? OptionalLong.of(seed) : OptionalLong.empty();
    }

    public boolean doSample() {
        return doSample;
    }

    /** Whether tokens are drawn at random: {@code doSample} and a positive temperature. Otherwise greedy. */
    public boolean isSampling() {
        return doSample && temperature > 0f;
    }

    /** Token ids that end the generation (with {@link StopReason#EOS}); sorted, unmodifiable. */
    public Set<Integer> stopTokenIds() {
        return stopTokenIds;
    }

    /** Whether {@code token} is a stop token (no boxing). */
    public boolean isStopToken(int token) {
        for (int id : stopTokenIdArray) {
            if (id == token) {
                return true;
            }
        }
        return false;
    }

    /**
     * Strings that end the generation once the decoded text contains them. Core has no tokenizer: a generation with
     * stop strings must be given a {@link StopCondition} that checks them (the loader layer builds one).
     */
    public List<String> stopStrings() {
        return stopStrings;
    }

    public PrefillMode prefillMode() {
        return prefillMode;
    }

    /**
     * Ids at or above this are never generated (their logits count as -inf); 0 when unset, which the core reads as
     * no limit and the tokenizer layer as "the tokenizer's size": a padded vocabulary's rows that no token names
     * would otherwise be sampled and decode to nothing.
     */
    public int vocabLimit() {
        return vocabLimit;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GenerationConfig c)) {
            return false;
        }
        return maxNewTokens == c.maxNewTokens
                && Float.compare(temperature, c.temperature) == 0
                && topK == c.topK
                && Float.compare(topP, c.topP) == 0
                && Float.compare(minP, c.minP) == 0
                && Float.compare(repetitionPenalty, c.repetitionPenalty) == 0
                && hasSeed == c.hasSeed
                && seed == c.seed
                && doSample == c.doSample
                && stopTokenIds.equals(c.stopTokenIds)
                && stopStrings.equals(c.stopStrings)
                && prefillMode.equals(c.prefillMode)
                && vocabLimit == c.vocabLimit;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                maxNewTokens,
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                hasSeed,
                seed,
                doSample,
                stopTokenIds,
                stopStrings,
                prefillMode,
                vocabLimit);
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "GenerationConfig[maxNewTokens=%d, doSample=%b, temperature=%s, topK=%d, topP=%s, minP=%s, "
                        + "repetitionPenalty=%s, seed=%s, stopTokenIds=%s, stopStrings=%s, prefillMode=%s, vocabLimit=%s]",
                maxNewTokens,
                doSample,
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                hasSeed ? Long.toString(seed) : "random",
                stopTokenIds,
                stopStrings,
                prefillMode,
                vocabLimit == 0 ? "unset" : Integer.toString(vocabLimit));
    }

    /** Mutable builder; {@link #build()} validates every value. */
    public static final class Builder {
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private double temperature = 1;
        private int topK = 0;
        private double topP = 1;
        private double minP = 0;
        private double repetitionPenalty = 1;
        private boolean hasSeed;
        private long seed;
        private boolean doSample;
        private final TreeSet<Integer> stopTokenIds = new TreeSet<>();
        private final List<String> stopStrings = new ArrayList<>();
        private PrefillMode prefillMode = PrefillMode.chunked(PrefillMode.DEFAULT_CHUNK);
        private int vocabLimit;

        private Builder() {}

        public Builder maxNewTokens(int maxNewTokens) {
            this.maxNewTokens = maxNewTokens;
            return this;
        }

        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        public Builder minP(double minP) {
            this.minP = minP;
            return this;
        }

        public Builder repetitionPenalty(double repetitionPenalty) {
            this.repetitionPenalty = repetitionPenalty;
            return this;
        }

        /** A fixed seed: the same prompt, model and configuration then give the same tokens, run after run. */
        public Builder seed(long seed) {
            this.seed = seed;
            this.hasSeed = true;
            return this;
        }

        /** Back to a fresh random seed per generation. */
        public Builder randomSeed() {
            this.hasSeed = false;
            this.seed = 0;
            return this;
        }

        public Builder doSample(boolean doSample) {
            this.doSample = doSample;
            return this;
        }

        /** Replaces the stop token ids. */
        public Builder stopTokenIds(Collection<Integer> ids) {
            Objects.requireNonNull(ids, "stopTokenIds");
            TreeSet<Integer> copy = new TreeSet<>();
            for (Integer id : ids) {
                if (id == null) {
                    throw new IllegalArgumentException("stopTokenIds must not contain null");
                }
                copy.add(id);
            }
            stopTokenIds.clear();
            stopTokenIds.addAll(copy);
            return this;
        }

        /** Replaces the stop token ids. */
        public Builder stopTokenIds(int... ids) {
            stopTokenIds.clear();
            for (int id : ids) {
                stopTokenIds.add(id);
            }
            return this;
        }

        /** Adds one stop token id. */
        public Builder addStopTokenId(int id) {
            stopTokenIds.add(id);
            return this;
        }

        /** Replaces the stop strings. */
        public Builder stopStrings(Collection<String> strings) {
            Objects.requireNonNull(strings, "stopStrings");
            List<String> copy = new ArrayList<>(strings.size());
            for (String s : strings) {
                if (s == null) {
                    throw new IllegalArgumentException("stopStrings must not contain null");
                }
                copy.add(s);
            }
            stopStrings.clear();
            stopStrings.addAll(copy);
            return this;
        }

        public Builder stopStrings(String... strings) {
            return stopStrings(List.of(strings));
        }

        /**
         * Never generate ids {@code >= limit} (see {@link GenerationConfig#vocabLimit()}); 0 unsets it. To sample
         * every row of a padded vocabulary, give the model's vocabulary size.
         */
        public Builder vocabLimit(int limit) {
            this.vocabLimit = limit;
            return this;
        }

        public Builder prefillMode(PrefillMode prefillMode) {
            this.prefillMode = prefillMode;
            return this;
        }

        /**
         * Applies the values of a parsed {@code generation_config.json}; absent keys and JSON nulls leave the
         * builder's value. Keys read: {@code do_sample}, {@code temperature}, {@code top_k}, {@code top_p},
         * {@code min_p}, {@code repetition_penalty}, {@code max_new_tokens}, {@code eos_token_id} (an int or a list of
         * ints: replaces the stop token ids), {@code stop_strings} (a string or a list), {@code seed}. Other keys are
         * ignored ({@code max_length} counts the prompt, which a configuration does not know).
         *
         * @throws IllegalArgumentException naming the key when a value has the wrong type
         */
        public Builder applyHuggingFace(Map<String, ?> values) {
            Objects.requireNonNull(values, "values");
            Object v;
            if ((v = values.get("do_sample")) != null) {
                doSample(bool("do_sample", v));
            }
            if ((v = values.get("temperature")) != null) {
                temperature(number("temperature", v).doubleValue());
            }
            if ((v = values.get("top_k")) != null) {
                topK(integer("top_k", v));
            }
            if ((v = values.get("top_p")) != null) {
                topP(number("top_p", v).doubleValue());
            }
            if ((v = values.get("min_p")) != null) {
                minP(number("min_p", v).doubleValue());
            }
            if ((v = values.get("repetition_penalty")) != null) {
                repetitionPenalty(number("repetition_penalty", v).doubleValue());
            }
            if ((v = values.get("max_new_tokens")) != null) {
                maxNewTokens(integer("max_new_tokens", v));
            }
            if ((v = values.get("seed")) != null) {
                seed(longValue("seed", v));
            }
            if ((v = values.get("eos_token_id")) != null) {
                List<Integer> ids = new ArrayList<>();
                if (v instanceof Collection<?> list) {
                    for (Object o : list) {
                        if (o == null) {
                            throw new IllegalArgumentException(
                                    "eos_token_id must be an integer or a list of integers, got " + v);
                        }
                        ids.add(integer("eos_token_id", o));
                    }
                } else {
                    ids.add(integer("eos_token_id", v));
                }
                stopTokenIds(ids);
            }
            if ((v = values.get("stop_strings")) != null) {
                if (v instanceof String s) {
                    stopStrings(List.of(s));
                } else if (v instanceof Collection<?> list) {
                    List<String> strings = new ArrayList<>();
                    for (Object o : list) {
                        if (!(o instanceof String s)) {
                            throw new IllegalArgumentException(
                                    "stop_strings must be a string or a list of strings, got " + v);
                        }
                        strings.add(s);
                    }
                    stopStrings(strings);
                } else {
                    throw new IllegalArgumentException("stop_strings must be a string or a list of strings, got " + v);
                }
            }
            return this;
        }

        private static boolean bool(String key, Object v) {
            if (v instanceof Boolean b) {
                return b;
            }
            throw new IllegalArgumentException(key + " must be a boolean, got " + describe(v));
        }

        private static Number number(String key, Object v) {
            if (v instanceof Number n) {
                return n;
            }
            throw new IllegalArgumentException(key + " must be a number, got " + describe(v));
        }

        private static long longValue(String key, Object v) {
            Number n = number(key, v);
            double d = n.doubleValue();
            if (n instanceof Double || n instanceof Float || n instanceof java.math.BigDecimal) {
                if (d != Math.rint(d) || Double.isInfinite(d)) {
                    throw new IllegalArgumentException(key + " must be an integer, got " + describe(v));
                }
            }
            if (n instanceof java.math.BigInteger bi && bi.bitLength() > 63) {
                throw new IllegalArgumentException(key + " is out of range: " + v);
            }
            return n.longValue();
        }

        private static int integer(String key, Object v) {
            long l = longValue(key, v);
            if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(key + " is out of range: " + v);
            }
            return (int) l;
        }

        private static String describe(Object v) {
            return v instanceof String s
                    ? "\"" + s + "\""
                    : v + " (" + v.getClass().getSimpleName() + ")";
        }

        /**
         * Validates and builds.
         *
         * @throws IllegalArgumentException naming the first invalid parameter and its value
         */
        public GenerationConfig build() {
            if (maxNewTokens < 0) {
                throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
            }
            if (!(temperature >= 0) || !Float.isFinite((float) temperature)) {
                throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
            }
            if (!(minP >= 0 && minP <= 1)) {
                throw new IllegalArgumentException("minP must be in [0, 1] (0 = off), got " + minP);
            }
            if (!(repetitionPenalty > 0)
                    || !Float.isFinite((float) repetitionPenalty)
                    || (float) repetitionPenalty == 0f) {
                throw new IllegalArgumentException(
                        "repetitionPenalty must be a finite number > 0 (1 = off), got " + repetitionPenalty);
            }
            for (int id : stopTokenIds) {
                if (id < 0) {
                    throw new IllegalArgumentException("stopTokenIds must be >= 0, got " + id);
                }
            }
            for (String s : stopStrings) {
                if (s.isEmpty()) {
                    throw new IllegalArgumentException("stopStrings must not contain an empty string");
                }
            }
            if (prefillMode == null) {
                throw new IllegalArgumentException("prefillMode must not be null");
            }
            if (vocabLimit < 0) {
                throw new IllegalArgumentException("vocabLimit must be >= 0 (0 = unset), got " + vocabLimit);
            }
            return new GenerationConfig(this);
        }
    }
}
