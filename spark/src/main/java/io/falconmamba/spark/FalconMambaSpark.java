package io.falconmamba.spark;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;

/**
 * Batch generation over a Spark {@link Dataset}: every executor JVM loads the model once ({@link ExecutorModels})
 * and decodes its partitions {@code batchSize} rows at a time. The result is the input with six columns added:
 * <ul>
 *   <li>{@value #COMPLETION} (string): the generated text, special tokens skipped;</li>
 *   <li>{@value #COMPLETION_IDS} (array&lt;int&gt;): the generated ids, the stop token included;</li>
 *   <li>{@value #STOP_REASON} (string): {@code eos}, {@code stop_sequence} or {@code length};</li>
 *   <li>{@value #PROMPT_TOKENS} and {@value #COMPLETION_TOKENS} (int);</li>
 *   <li>{@value #ERROR} (string): null, or why this row got no completion (a null or empty prompt, a prompt over
 *       {@code maxPromptTokens}, a decoding failure), unless the options ask to fail fast.</li>
 * </ul>
 * Greedy results do not depend on the partitioning or the batch size; sampled ones do not either, each row
 * seeding its own draw ({@link GenerationOptions}).
 */
public final class FalconMambaSpark {

    public static final String COMPLETION = "completion";
    public static final String COMPLETION_IDS = "completion_ids";
    public static final String STOP_REASON = "stop_reason";
    public static final String PROMPT_TOKENS = "prompt_tokens";
    public static final String COMPLETION_TOKENS = "completion_tokens";
    public static final String ERROR = "error";

    /** Columns appended to each row, in this order. */
    static final int OUTPUT_COLUMNS = 6;

    private FalconMambaSpark() {}

    /**
     * Continues the text of {@code promptColumn} (a string column) of every row, the prompt encoded as
     * {@code FalconMamba.generate} encodes it.
     *
     * @throws IllegalArgumentException naming the column when it is missing or not a string, or when an output
     *     column already exists
     */
    public static Dataset<Row> generate(Dataset<Row> input, String promptColumn, GenerationOptions options) {
        StructType schema = input.schema();
        int index = column(schema, promptColumn, "prompt column");
        if (!(schema.fields()[index].dataType() instanceof StringType)) {
            throw new IllegalArgumentException("prompt column " + promptColumn + " must be a string, found "
                    + schema.fields()[index].dataType().simpleString());
        }
        PartitionGenerator.Input in =
                new PartitionGenerator.Input(promptColumn, index, false, -1, -1, seedIndex(schema, options));
        return run(input, options, in);
    }

    /**
     * Answers the conversation in {@code messagesColumn} (array&lt;struct&lt;role: string, content: string&gt;&gt;)
     * of every row through the checkpoint's chat template, as {@code FalconMamba.chat} does.
     *
     * @throws IllegalArgumentException naming the column when it is missing or of another type, or when an output
     *     column already exists
     */
    public static Dataset<Row> chat(Dataset<Row> input, String messagesColumn, GenerationOptions options) {
        StructType schema = input.schema();
        int index = column(schema, messagesColumn, "messages column");
        String expected = "array<struct<role: string, content: string>>";
        if (!(schema.fields()[index].dataType() instanceof ArrayType array)
                || !(array.elementType() instanceof StructType message)) {
            throw new IllegalArgumentException("messages column " + messagesColumn + " must be " + expected + ", found "
                    + schema.fields()[index].dataType().simpleString());
        }
        List<String> fields = Arrays.asList(message.fieldNames());
        int role = fields.indexOf("role");
        int content = fields.indexOf("content");
        if (role < 0
                || content < 0
                || !(message.fields()[role].dataType() instanceof StringType)
                || !(message.fields()[content].dataType() instanceof StringType)) {
            throw new IllegalArgumentException("messages column " + messagesColumn + " must be " + expected + ", found "
                    + schema.fields()[index].dataType().simpleString());
        }
        PartitionGenerator.Input in =
                new PartitionGenerator.Input(messagesColumn, index, true, role, content, seedIndex(schema, options));
        return run(input, options, in);
    }

    /** The input's schema followed by the generated columns. */
    public static StructType outputSchema(StructType input) {
        for (String name : List.of(COMPLETION, COMPLETION_IDS, STOP_REASON, PROMPT_TOKENS, COMPLETION_TOKENS, ERROR)) {
            if (Arrays.asList(input.fieldNames()).contains(name)) {
                throw new IllegalArgumentException(
                        "the input already has a column named " + name + ": rename it before generating");
            }
        }
        return input.add(COMPLETION, DataTypes.StringType, true)
                .add(COMPLETION_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
                .add(STOP_REASON, DataTypes.StringType, true)
                .add(PROMPT_TOKENS, DataTypes.IntegerType, true)
                .add(COMPLETION_TOKENS, DataTypes.IntegerType, true)
                .add(ERROR, DataTypes.StringType, true);
    }

    private static Dataset<Row> run(Dataset<Row> input, GenerationOptions options, PartitionGenerator.Input in) {
        Objects.requireNonNull(options, "options");
        StructType out = outputSchema(input.schema());
        return input.mapPartitions(new PartitionGenerator(options, in), Encoders.row(out));
    }

    private static int column(StructType schema, String name, String what) {
        Objects.requireNonNull(name, what);
        int index = Arrays.asList(schema.fieldNames()).indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException(what + " " + name + " is not in the input; its columns are "
                    + Arrays.toString(schema.fieldNames()));
        }
        return index;
    }

    private static int seedIndex(StructType schema, GenerationOptions options) {
        Objects.requireNonNull(options, "options");
        return options.seedColumn() == null ? -1 : column(schema, options.seedColumn(), "seed column");
    }
}
