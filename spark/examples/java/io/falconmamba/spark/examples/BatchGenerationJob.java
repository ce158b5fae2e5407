package io.falconmamba.spark.examples;

import io.falconmamba.spark.FalconMambaSpark;
import io.falconmamba.spark.GenerationOptions;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * Reads prompts (a {@code prompt} string column) from Parquet or JSON Lines, continues each one with Falcon Mamba
 * on the executors, and writes the input columns plus the generated ones to Parquet.
 *
 * <pre>
 * BatchGenerationJob &lt;model&gt; &lt;input.parquet|input.jsonl&gt; &lt;output-dir&gt; [max-new-tokens] [batch-size]
 * </pre>
 *
 * {@code model} is a directory every executor can read (or a name shipped with {@code --archives}), or a Hugging
 * Face repo id in the executors' cache. Rows that fail (an empty prompt, one over 4,096 tokens) keep an
 * {@code error} and no completion; the job goes on.
 */
public final class BatchGenerationJob {

    private BatchGenerationJob() {}

    public static void main(String[] args) {
        if (args.length < 3 || args.length > 5) {
            System.err.println("usage: BatchGenerationJob <model> <input.parquet|input.jsonl> <output-dir>"
                    + " [max-new-tokens] [batch-size]");
            System.exit(2);
        }
        SparkSession spark =
                SparkSession.builder().appName("falcon-mamba batch generation").getOrCreate();
        try {
            run(spark, args);
        } finally {
            spark.stop();
        }
    }

    /** The job on a running session (the test runs it in local mode). */
    public static void run(SparkSession spark, String[] args) {
        String model = args[0];
        String input = args[1];
        String output = args[2];
        GenerationOptions options = GenerationOptions.builder(model)
                .greedy()
                .maxNewTokens(args.length > 3 ? Integer.parseInt(args[3]) : 64)
                .batchSize(args.length > 4 ? Integer.parseInt(args[4]) : GenerationOptions.DEFAULT_BATCH_SIZE)
                .maxPromptTokens(4096)
                .build();
        Dataset<Row> prompts = input.endsWith(".jsonl") || input.endsWith(".json")
                ? spark.read().json(input)
                : spark.read().parquet(input);
        FalconMambaSpark.generate(prompts, "prompt", options)
                .write()
                .mode(SaveMode.Overwrite)
                .parquet(output);
    }
}
