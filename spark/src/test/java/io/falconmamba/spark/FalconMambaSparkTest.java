package io.falconmamba.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.testkit.TestData;
import io.falconmamba.tokenizer.ChatMessage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark in local[2] (one JVM, two task threads) on the demo model, checked against the single-process library:
 * the same greedy completions whatever the partitioning, one model load per JVM, bad rows flagged on their row.
 */
class FalconMambaSparkTest {

    private static final int NEW_TOKENS = 8;
    private static final StructType PROMPTS =
            new StructType().add("id", DataTypes.IntegerType, false).add("prompt", DataTypes.StringType, true);

    private static SparkSession spark;
    private static FalconMamba demo;

    @BeforeAll
    static void start() {
        spark = LocalSpark.start("local[2]", "falcon-mamba-spark-test");
        demo = FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1));
    }

    @AfterAll
    static void stop() {
        spark.stop();
        demo.close();
        ExecutorModels.closeIdle();
    }

    private static GenerationOptions.Builder demoOptions() {
        return GenerationOptions.builder(TestData.demoModel().toString()).maxNewTokens(NEW_TOKENS);
    }

    private static GenerationConfig greedy() {
        return demo.defaults().toBuilder()
                .doSample(false)
                .maxNewTokens(NEW_TOKENS)
                .build();
    }

    private static Dataset<Row> prompts(List<String> prompts) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            rows.add(RowFactory.create(i, prompts.get(i)));
        }
        return spark.createDataFrame(rows, PROMPTS);
    }

    private static Map<Integer, Row> byId(Dataset<Row> result) {
        Map<Integer, Row> out = new HashMap<>();
        for (Row r : result.collectAsList()) {
            assertNull(out.put(r.getInt(r.fieldIndex("id")), r), "one output row per input row");
        }
        return out;
    }

    private static int[] ids(Row r) {
        return r.<Integer>getList(r.fieldIndex(FalconMambaSpark.COMPLETION_IDS)).stream()
                .mapToInt(Integer::intValue)
                .toArray();
    }

    private static void assertSameCompletion(Completion want, Row got, String what) {
        assertNull(got.getAs(FalconMambaSpark.ERROR), what);
        assertEquals(want.text(), got.getAs(FalconMambaSpark.COMPLETION), what);
        assertArrayEquals(want.ids(), ids(got), what);
        assertEquals(want.stopReason().name().toLowerCase(Locale.ROOT), got.getAs(FalconMambaSpark.STOP_REASON), what);
        assertEquals(want.promptIds().length, (int) got.getAs(FalconMambaSpark.PROMPT_TOKENS), what);
        assertEquals(want.ids().length, (int) got.getAs(FalconMambaSpark.COMPLETION_TOKENS), what);
    }

    @Test
    void thousandPromptsGiveTheSingleProcessGreedyTextsWhateverThePartitioning() {
        List<String> prompts = Prompts.first(1000);
        List<Completion> expected = new ArrayList<>();
        for (String p : prompts) {
            expected.add(demo.generate(p, greedy()));
        }
        ExecutorModels.closeIdle();
        int loadsBefore = ExecutorModels.loadCount();

        Dataset<Row> eight = prompts(prompts).repartition(8);
        assertEquals(8, eight.rdd().getNumPartitions());
        Map<Integer, Row> a = byId(FalconMambaSpark.generate(
                eight, "prompt", demoOptions().greedy().batchSize(16).build()));
        // Another partitioning and batch size: every row lands in other batches with other neighbours.
        Dataset<Row> three = prompts(prompts).repartition(3);
        Map<Integer, Row> b = byId(FalconMambaSpark.generate(
                three, "prompt", demoOptions().greedy().batchSize(7).build()));

        assertEquals(1000, a.size());
        assertEquals(1000, b.size());
        for (int i = 0; i < prompts.size(); i++) {
            assertSameCompletion(expected.get(i), a.get(i), "8 partitions, prompt " + i + ": " + prompts.get(i));
            assertSameCompletion(expected.get(i), b.get(i), "3 partitions, prompt " + i + ": " + prompts.get(i));
            assertEquals(prompts.get(i), a.get(i).getAs("prompt"), "the input columns are kept");
        }
        // 11 tasks, two at a time, two jobs: one load, shared by every task of this JVM.
        assertEquals(1, ExecutorModels.loadCount() - loadsBefore, "model loads in this JVM");
    }

    @Test
    void badRowsGetTheirErrorAndTheOthersComplete() {
        String longPrompt = "And the LORD said unto Moses, ".repeat(20);
        List<String> prompts = new ArrayList<>(List.of("In the beginning", "", longPrompt, "Blessed is the man that"));
        prompts.add(null);
        GenerationOptions options = demoOptions().greedy().maxPromptTokens(32).build();
        Map<Integer, Row> out = byId(FalconMambaSpark.generate(prompts(prompts).repartition(2), "prompt", options));

        assertSameCompletion(demo.generate(prompts.get(0), greedy()), out.get(0), "good row 0");
        assertSameCompletion(demo.generate(prompts.get(3), greedy()), out.get(3), "good row 3");
        assertEquals("the prompt encodes to no tokens", out.get(1).getAs(FalconMambaSpark.ERROR));
        String tooLong = out.get(2).getAs(FalconMambaSpark.ERROR);
        int longTokens = demo.tokenizer().encode(longPrompt, true).length;
        assertTrue(longTokens > 32, "the long prompt is over the limit: " + longTokens);
        assertEquals("the prompt has " + longTokens + " tokens, more than maxPromptTokens 32", tooLong);
        assertEquals(longTokens, (int) out.get(2).getAs(FalconMambaSpark.PROMPT_TOKENS));
        assertEquals("column prompt is null", out.get(4).getAs(FalconMambaSpark.ERROR));
        for (int bad : new int[] {1, 2, 4}) {
            assertNull(out.get(bad).getAs(FalconMambaSpark.COMPLETION), "no completion on bad row " + bad);
            assertNull(out.get(bad).getAs(FalconMambaSpark.COMPLETION_IDS), "no ids on bad row " + bad);
        }
    }

    /**
     * A decoding failure of one row (here a tokenizer with a token the model has no embedding for, as a mismatched
     * tokenizer.json gives) fails its batch decode; the rows are then decoded one by one and only that row errs.
     */
    @Test
    void aRowThatFailsToDecodeErrsAloneInItsBatch(@TempDir Path tmp) throws IOException {
        Path model = tmp.resolve("demo-extra-token");
        Files.createDirectories(model);
        try (var files = Files.list(TestData.demoModel())) {
            for (Path f : files.toList()) {
                Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        Path tokenizer = model.resolve("tokenizer.json");
        String added = "\"added_tokens\": [";
        String text = Files.readString(tokenizer);
        assertTrue(text.contains(added), "the demo tokenizer.json lists added tokens");
        Files.writeString(
                tokenizer,
                text.replace(
                        added,
                        added + "{\"id\": 5000, \"content\": \"<|beyond|>\", \"single_word\": false, "
                                + "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
                                + "\"special\": false},"));

        List<String> prompts = List.of("In the beginning", "In the <|beyond|> beginning", "Blessed is the man that");
        GenerationOptions options = GenerationOptions.builder(model.toString())
                .greedy()
                .maxNewTokens(NEW_TOKENS)
                .build();
        Map<Integer, Row> out = byId(FalconMambaSpark.generate(prompts(prompts).coalesce(1), "prompt", options));
        assertSameCompletion(demo.generate(prompts.get(0), greedy()), out.get(0), "row 0");
        assertSameCompletion(demo.generate(prompts.get(2), greedy()), out.get(2), "row 2");
        String error = out.get(1).getAs(FalconMambaSpark.ERROR);
        assertNotNull(error, "row 1 errs");
        // The tokenizer numbers the added token past the model's 4,096 embeddings.
        assertTrue(error.contains("is outside the vocabulary [0, 4096)"), error);
        assertNull(out.get(1).getAs(FalconMambaSpark.COMPLETION));
    }

    @Test
    void failFastFailsTheJobNamingTheRow() {
        List<String> prompts = List.of("In the beginning", "And the LORD said unto Moses, ".repeat(20));
        GenerationOptions options =
                demoOptions().greedy().maxPromptTokens(32).failFast(true).build();
        Dataset<Row> result = FalconMambaSpark.generate(prompts(prompts).coalesce(1), "prompt", options);
        Exception e = assertThrows(Exception.class, result::collectAsList);
        Throwable cause = e;
        while (cause != null && !(cause instanceof RowFailedException)) {
            cause = cause.getCause();
        }
        assertNotNull(cause, "a RowFailedException in the causes of " + e);
        assertTrue(cause.getMessage().startsWith("row 1 of partition 0 (prompt): the prompt has"), cause.getMessage());
    }

    @Test
    void seededSamplingIsReproduciblePerRowWhateverThePartitioning() {
        List<String> prompts = Prompts.first(60);
        GenerationOptions sampling =
                demoOptions().doSample(true).temperature(1.0).seed(42).build();
        Map<Integer, Row> one = byId(FalconMambaSpark.generate(prompts(prompts).coalesce(1), "prompt", sampling));
        Map<Integer, Row> five = byId(FalconMambaSpark.generate(
                prompts(prompts).repartition(5),
                "prompt",
                demoOptions()
                        .doSample(true)
                        .temperature(1.0)
                        .seed(42)
                        .batchSize(3)
                        .build()));
        int differFromGreedy = 0;
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(ids(one.get(i)), ids(five.get(i)), "prompt " + i);
            if (!one.get(i)
                    .getAs(FalconMambaSpark.COMPLETION)
                    .equals(demo.generate(prompts.get(i), greedy()).text())) {
                differFromGreedy++;
            }
        }
        assertTrue(
                differFromGreedy > prompts.size() / 2,
                "sampling is on: " + differFromGreedy + " rows differ from greedy");
        // Another job seed draws other tokens.
        Map<Integer, Row> other = byId(FalconMambaSpark.generate(
                prompts(prompts).coalesce(1),
                "prompt",
                demoOptions().doSample(true).temperature(1.0).seed(43).build()));
        int changed = 0;
        for (int i = 0; i < prompts.size(); i++) {
            if (!java.util.Arrays.equals(ids(one.get(i)), ids(other.get(i)))) {
                changed++;
            }
        }
        assertTrue(changed > prompts.size() / 2, "seed 43 changes most rows: " + changed);
    }

    @Test
    void chatAnswersEachConversationAsTheLibraryDoes() {
        Path model = TestData.fixture("tiny-falcon-mamba");
        StructType message = new StructType().add("role", DataTypes.StringType).add("content", DataTypes.StringType);
        StructType schema = new StructType()
                .add("id", DataTypes.IntegerType, false)
                .add("messages", DataTypes.createArrayType(message));
        List<List<ChatMessage>> conversations = List.of(
                List.of(ChatMessage.user("Hello")),
                List.of(ChatMessage.system("Be brief."), ChatMessage.user("What is a state space model?")),
                List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello!"), ChatMessage.user("Count to three.")));
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < conversations.size(); i++) {
            List<Row> m = conversations.get(i).stream()
                    .map(c -> RowFactory.create(c.role(), c.content()))
                    .toList();
            rows.add(RowFactory.create(i, m));
        }
        rows.add(RowFactory.create(3, List.of()));
        Dataset<Row> input = spark.createDataFrame(rows, schema).repartition(2);
        Map<Integer, Row> out = byId(FalconMambaSpark.chat(
                input,
                "messages",
                GenerationOptions.builder(model.toString())
                        .greedy()
                        .maxNewTokens(12)
                        .build()));
        try (FalconMamba fm = FalconMamba.load(model, LoadOptions.defaults().withThreads(1))) {
            GenerationConfig config =
                    fm.defaults().toBuilder().doSample(false).maxNewTokens(12).build();
            for (int i = 0; i < conversations.size(); i++) {
                assertSameCompletion(fm.chat(conversations.get(i), config), out.get(i), "conversation " + i);
            }
        }
        assertEquals("column messages holds no messages", out.get(3).getAs(FalconMambaSpark.ERROR));
    }

    @Test
    void badColumnsAreRefusedOnTheDriver() {
        Dataset<Row> input = prompts(List.of("In the beginning"));
        GenerationOptions options = demoOptions().build();
        IllegalArgumentException missing =
                assertThrows(IllegalArgumentException.class, () -> FalconMambaSpark.generate(input, "text", options));
        assertEquals("prompt column text is not in the input; its columns are [id, prompt]", missing.getMessage());
        IllegalArgumentException notString =
                assertThrows(IllegalArgumentException.class, () -> FalconMambaSpark.generate(input, "id", options));
        assertEquals("prompt column id must be a string, found int", notString.getMessage());
        IllegalArgumentException notMessages =
                assertThrows(IllegalArgumentException.class, () -> FalconMambaSpark.chat(input, "prompt", options));
        assertTrue(notMessages.getMessage().startsWith("messages column prompt must be array<struct<role"));
        IllegalArgumentException clash = assertThrows(
                IllegalArgumentException.class,
                () -> FalconMambaSpark.generate(input.withColumnRenamed("id", "error"), "prompt", options));
        assertTrue(clash.getMessage().contains("already has a column named error"), clash.getMessage());
        IllegalArgumentException seed = assertThrows(
                IllegalArgumentException.class,
                () -> FalconMambaSpark.generate(
                        input, "prompt", demoOptions().seedColumn("key").build()));
        assertTrue(seed.getMessage().startsWith("seed column key is not in the input"), seed.getMessage());
    }
}
