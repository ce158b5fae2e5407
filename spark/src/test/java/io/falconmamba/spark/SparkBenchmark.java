package io.falconmamba.spark;

import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.testkit.TestData;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Rows/s and tokens/s of 1,000 greedy demo-model prompts: the plain library loop (one {@code generate} per prompt,
 * and {@code generateBatch} over batches), then Spark local[1] and local[2] over 8 partitions. Each configuration
 * runs once to warm up and once timed; wall time and the process's CPU time are both reported, since a shared
 * machine stretches the first. Run as a main class (docs/spark.md says how); not a test.
 */
public final class SparkBenchmark {

    private static final int PROMPTS = 1000;
    private static final int NEW_TOKENS = 16;
    private static final int BATCH = 16;
    private static final int PARTITIONS = 8;

    private SparkBenchmark() {}

    public static void main(String[] args) {
        List<String> prompts = Prompts.first(PROMPTS);
        String model = TestData.demoModel().toString();
        System.out.printf(
                Locale.ROOT,
                "%d prompts, %d new tokens (greedy, eos stops early), demo-kjv, %d cores, %s%n",
                PROMPTS,
                NEW_TOKENS,
                Runtime.getRuntime().availableProcessors(),
                Runtime.version());
        try (FalconMamba fm =
                FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1))) {
            GenerationConfig greedy = fm.defaults().toBuilder()
                    .doSample(false)
                    .maxNewTokens(NEW_TOKENS)
                    .build();
            for (int round = 0; round < 2; round++) {
                long t0 = start();
                long tokens = 0;
                for (String p : prompts) {
                    tokens += fm.generate(p, greedy).ids().length;
                }
                report(round, "library loop, generate per prompt, 1 thread", t0, tokens);
            }
            for (int round = 0; round < 2; round++) {
                long t0 = start();
                long tokens = 0;
                for (int from = 0; from < prompts.size(); from += BATCH) {
                    for (Completion c :
                            fm.generateBatch(prompts.subList(from, Math.min(prompts.size(), from + BATCH)), greedy)) {
                        tokens += c.ids().length;
                    }
                }
                report(round, "library loop, generateBatch of " + BATCH + ", 1 thread", t0, tokens);
            }
        }
        for (String master : List.of("local[1]", "local[2]")) {
            SparkSession spark = LocalSpark.start(master, "falcon-mamba-spark-benchmark");
            try {
                StructType schema = new StructType().add("prompt", DataTypes.StringType);
                List<Row> rows = new ArrayList<>();
                prompts.forEach(p -> rows.add(RowFactory.create(p)));
                Dataset<Row> input = spark.createDataFrame(rows, schema)
                        .repartition(PARTITIONS)
                        .cache();
                input.count();
                GenerationOptions options = GenerationOptions.builder(model)
                        .greedy()
                        .maxNewTokens(NEW_TOKENS)
                        .batchSize(BATCH)
                        .build();
                for (int round = 0; round < 2; round++) {
                    long t0 = start();
                    Row sum = FalconMambaSpark.generate(input, "prompt", options)
                            .agg(functions.count("*"), functions.sum(FalconMambaSpark.COMPLETION_TOKENS))
                            .first();
                    if (sum.getLong(0) != PROMPTS) {
                        throw new IllegalStateException("expected " + PROMPTS + " rows, got " + sum.getLong(0));
                    }
                    report(
                            round,
                            "Spark " + master + ", " + PARTITIONS + " partitions, batch " + BATCH,
                            t0,
                            sum.getLong(1));
                }
            } finally {
                spark.stop();
            }
        }
        System.out.println("model loads in this JVM by the Spark runs: " + ExecutorModels.loadCount());
    }

    private static long cpuStart;

    /** CPU time of this process (every thread: kernels, Spark's own), for figures a busy machine distorts less. */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static long start() {
        cpuStart = cpuNanos();
        return System.nanoTime();
    }

    private static void report(int round, String what, long t0, long tokens) {
        double s = (System.nanoTime() - t0) / 1e9;
        double cpu = (cpuNanos() - cpuStart) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "%-8s %-50s %7.2f s %7.1f rows/s %8.1f tokens/s | %6.2f cpu-s %8.1f tokens/cpu-s%n",
                round == 0 ? "warm-up" : "timed",
                what,
                s,
                PROMPTS / s,
                tokens / s,
                cpu,
                tokens / cpu);
    }
}
