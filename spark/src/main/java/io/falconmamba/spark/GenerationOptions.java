package io.falconmamba.spark;

import io.falconmamba.LoadOptions;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.core.generation.GenerationConfig;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;

/**
 * What {@link FalconMambaSpark} loads on each executor and how it generates: an immutable, serializable value
 * shipped to the executors with the job.
 *
 * <p>Generation settings override the checkpoint's {@code generation_config.json}, key by key, with Hugging Face's
 * meaning ({@link GenerationConfig.Builder#applyHuggingFace}); settings left unset keep the checkpoint's value.
 * Sampling is always reproducible: each row draws with a seed derived from {@link Builder#seed(long) the seed}
 * (0 unless set) and the row's content, or its {@link Builder#seedColumn(String) seed column}.
 */
public final class GenerationOptions implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Rows per batch decode when not set. */
    public static final int DEFAULT_BATCH_SIZE = 16;

    private final String model;
    private final boolean allowDownload;
    private final Quantization quantization;
    private final WeightStorage storage;
    private final int threads;
    private final int batchSize;
    private final int maxPromptTokens;
    private final boolean failFast;
    private final String seedColumn;
    /** Hugging Face generation_config keys; values are Boolean, Integer, Long, Double or ArrayList of String. */
    private final LinkedHashMap<String, Serializable> generation;

    private GenerationOptions(Builder b) {
        this.model = b.model;
        this.allowDownload = b.allowDownload;
        this.quantization = b.quantization;
        this.storage = b.storage;
        this.threads = b.threads;
        this.batchSize = b.batchSize;
        this.maxPromptTokens = b.maxPromptTokens;
        this.failFast = b.failFast;
        this.seedColumn = b.seedColumn;
        this.generation = new LinkedHashMap<>(b.generation);
    }

    /**
     * Options for a model every executor can reach: a directory on a shared file system, the name of a
     * directory shipped with {@code SparkContext.addFile(dir, true)} or unpacked by {@code --archives}, or a
     * Hugging Face repo id in the executors' Hugging Face cache (or downloaded there, with
     * {@link Builder#allowDownload(boolean)}).
     */
    public static Builder builder(String model) {
        return new Builder(model);
    }

    public String model() {
        return model;
    }

    public boolean allowDownload() {
        return allowDownload;
    }

    public Quantization quantization() {
        return quantization;
    }

    public WeightStorage storage() {
        return storage;
    }

    /** Kernel threads of the executor's model; 0: {@code spark.task.cpus}. */
    public int threads() {
        return threads;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Longest prompt in tokens; a longer one gets an error on its row. 0: no limit. */
    public int maxPromptTokens() {
        return maxPromptTokens;
    }

    /** Whether a row's error fails the task (and so the job) instead of filling the row's {@code error} column. */
    public boolean failFast() {
        return failFast;
    }

    /** The column whose value seeds each row's sampling, or null to seed from the row's prompt or messages. */
    public String seedColumn() {
        return seedColumn;
    }

    /** The seed rows' seeds are derived from (0 unless set). */
    public long seed() {
        return generation.get("seed") instanceof Long s ? s : 0L;
    }

    /** The generation settings on top of the checkpoint's defaults. */
    public GenerationConfig generationConfig(GenerationConfig defaults) {
        return defaults.toBuilder().applyHuggingFace(generation).build();
    }

    /** The executor's model for a task with {@code taskCpus} cores. */
    ModelKey modelKey(int taskCpus) {
        return new ModelKey(model, allowDownload, threads > 0 ? threads : Math.max(1, taskCpus), quantization, storage);
    }

    @Override
    public String toString() {
        return "GenerationOptions[model=" + model + ", batchSize=" + batchSize + ", threads="
                + (threads > 0 ? threads : "spark.task.cpus") + ", maxPromptTokens=" + maxPromptTokens + ", failFast="
                + failFast + ", seedColumn=" + seedColumn + ", generation=" + generation + "]";
    }

    /** The model an executor holds once per JVM: where it is and how it is loaded. */
    record ModelKey(String model, boolean allowDownload, int threads, Quantization quantization, WeightStorage storage)
            implements Serializable {

        LoadOptions loadOptions() {
            return LoadOptions.defaults()
                    .withThreads(threads)
                    .withQuantization(quantization)
                    .withStorage(storage)
                    .withDownload(allowDownload, null);
        }
    }

    /** Mutable builder; {@link #build()} checks every value. */
    public static final class Builder {
        private final String model;
        private boolean allowDownload;
        private Quantization quantization = Quantization.NONE;
        private WeightStorage storage = WeightStorage.AUTO;
        private int threads;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private int maxPromptTokens;
        private boolean failFast;
        private String seedColumn;
        private final LinkedHashMap<String, Serializable> generation = new LinkedHashMap<>();

        private Builder(String model) {
            this.model = Objects.requireNonNull(model, "model");
        }

        /** Lets executors download a repo id missing from their Hugging Face cache. */
        public Builder allowDownload(boolean allow) {
            this.allowDownload = allow;
            return this;
        }

        public Builder quantization(Quantization quantization) {
            this.quantization = Objects.requireNonNull(quantization, "quantization");
            return this;
        }

        /**
         * Where each executor keeps the weight matrices (default {@link WeightStorage#AUTO}: copied into memory
         * when the checkpoint takes 64 MiB or more and at most half of the executor host's available memory, else
         * mapped).
         */
        public Builder storage(WeightStorage storage) {
            this.storage = Objects.requireNonNull(storage, "storage");
            return this;
        }

        /** Kernel threads of each executor's model (default 0: {@code spark.task.cpus}). */
        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        /** Rows decoded together: each decode step reads every weight once for the whole batch. */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Longest prompt in tokens (0: no limit); a longer prompt gets an error on its row. */
        public Builder maxPromptTokens(int maxPromptTokens) {
            this.maxPromptTokens = maxPromptTokens;
            return this;
        }

        /** Fails the job at the first bad row instead of filling its {@code error} column. */
        public Builder failFast(boolean failFast) {
            this.failFast = failFast;
            return this;
        }

        /** Seeds each row's sampling from this column's value instead of from its prompt or messages. */
        public Builder seedColumn(String column) {
            this.seedColumn = column;
            return this;
        }

        public Builder maxNewTokens(int maxNewTokens) {
            generation.put("max_new_tokens", maxNewTokens);
            return this;
        }

        /** Greedy decoding: the same text for a prompt whatever the partitioning or the batch. */
        public Builder greedy() {
            return doSample(false);
        }

        public Builder doSample(boolean doSample) {
            generation.put("do_sample", doSample);
            return this;
        }

        public Builder temperature(double temperature) {
            generation.put("temperature", temperature);
            return this;
        }

        public Builder topK(int topK) {
            generation.put("top_k", topK);
            return this;
        }

        public Builder topP(double topP) {
            generation.put("top_p", topP);
            return this;
        }

        public Builder minP(double minP) {
            generation.put("min_p", minP);
            return this;
        }

        public Builder repetitionPenalty(double penalty) {
            generation.put("repetition_penalty", penalty);
            return this;
        }

        /** The seed each row's sampling seed is derived from (default 0). */
        public Builder seed(long seed) {
            generation.put("seed", seed);
            return this;
        }

        /** Replaces the stop token ids (the checkpoint's eos by default). */
        public Builder stopTokenIds(int... ids) {
            ArrayList<Integer> list = new ArrayList<>();
            for (int id : ids) {
                list.add(id);
            }
            generation.put("eos_token_id", list);
            return this;
        }

        public Builder stopStrings(String... strings) {
            generation.put("stop_strings", new ArrayList<>(List.of(strings)));
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the option for a blank model, a batch size below 1, negative
         *     threads or prompt limit, or a generation setting the engine refuses
         */
        public GenerationOptions build() {
            if (model.isBlank()) {
                throw new IllegalArgumentException("model must name a directory or a repo id, got a blank string");
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            }
            if (threads < 0) {
                throw new IllegalArgumentException("threads must be >= 0 (0: spark.task.cpus), got " + threads);
            }
            if (maxPromptTokens < 0) {
                throw new IllegalArgumentException(
                        "maxPromptTokens must be >= 0 (0: no limit), got " + maxPromptTokens);
            }
            if (seedColumn != null && seedColumn.isBlank()) {
                throw new IllegalArgumentException("seedColumn must name a column, got a blank string");
            }
            // The same check the executors run on top of the checkpoint's defaults, here on the driver.
            GenerationConfig.builder()
                    .applyHuggingFace(Collections.unmodifiableMap(generation))
                    .build();
            return new GenerationOptions(this);
        }
    }
}
