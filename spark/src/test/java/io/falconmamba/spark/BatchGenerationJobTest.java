package io.falconmamba.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.spark.examples.BatchGenerationJob;
import io.falconmamba.testkit.TestData;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example job end to end: the shipped JSON Lines prompts in, Parquet out, read back and checked. */
class BatchGenerationJobTest {

    @Test
    void jsonLinesInParquetOut(@TempDir Path tmp) {
        Path input = TestData.root().getParent().getParent().resolve("spark/examples/prompts.jsonl");
        Path output = tmp.resolve("out.parquet");
        SparkSession spark = LocalSpark.start("local[2]", "batch-generation-job-test");
        List<Row> rows;
        try {
            BatchGenerationJob.run(
                    spark, new String[] {TestData.demoModel().toString(), input.toString(), output.toString(), "12"});
            rows = spark.read().parquet(output.toString()).orderBy("id").collectAsList();
        } finally {
            spark.stop();
        }
        assertEquals(5, rows.size());
        try (FalconMamba demo =
                FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1))) {
            GenerationConfig greedy =
                    demo.defaults().toBuilder().doSample(false).maxNewTokens(12).build();
            for (Row r : rows.subList(0, 4)) {
                String prompt = r.getAs("prompt");
                assertNull(r.getAs(FalconMambaSpark.ERROR), prompt);
                assertEquals(demo.generate(prompt, greedy).text(), r.getAs(FalconMambaSpark.COMPLETION), prompt);
            }
        }
        assertEquals("the prompt encodes to no tokens", rows.get(4).getAs(FalconMambaSpark.ERROR));
    }
}
