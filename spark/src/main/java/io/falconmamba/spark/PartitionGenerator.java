package io.falconmamba.spark;

import io.falconmamba.Completion;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.spark.ExecutorModels.Lease;
import io.falconmamba.tokenizer.ChatMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Generates one partition on an executor: the executor's shared model, rows read and decoded {@code batchSize} at a
 * time with the engine's batch decode, each input row returned with the generated columns appended.
 */
final class PartitionGenerator implements MapPartitionsFunction<Row, Row> {

    private static final long serialVersionUID = 1L;

    /** Where a row's input is: a prompt column, or a messages column of struct(role, content). */
    record Input(String column, int index, boolean chat, int roleField, int contentField, int seedIndex)
            implements java.io.Serializable {}

    private final GenerationOptions options;
    private final Input input;

    PartitionGenerator(GenerationOptions options, Input input) {
        this.options = options;
        this.input = input;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        TaskContext task = TaskContext.get();
        Lease lease = ExecutorModels.acquire(options.modelKey(task == null ? 1 : task.cpus()));
        if (task != null) {
            // Released however the task ends, also when a downstream limit stops reading early.
            task.addTaskCompletionListener((TaskCompletionListener) context -> lease.close());
        }
        int partition = task == null ? 0 : task.partitionId();
        return new Batches(rows, lease, task == null, partition);
    }

    /** Reads a batch of input rows when the previous batch's output is used up. */
    private final class Batches implements Iterator<Row> {
        private final Iterator<Row> rows;
        private final Lease lease;
        private final boolean releaseAtEnd;
        private final int partition;
        private final FalconMamba model;
        private final GenerationConfig config;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();
        private long position;

        Batches(Iterator<Row> rows, Lease lease, boolean releaseAtEnd, int partition) {
            this.rows = rows;
            this.lease = lease;
            this.releaseAtEnd = releaseAtEnd;
            this.partition = partition;
            this.model = lease.model();
            GenerationConfig base = options.generationConfig(model.defaults());
            this.config = input.chat() ? model.chatConfig(base) : base;
        }

        @Override
        public boolean hasNext() {
            if (ready.isEmpty() && rows.hasNext()) {
                List<Row> batch = new ArrayList<>(options.batchSize());
                while (batch.size() < options.batchSize() && rows.hasNext()) {
                    batch.add(rows.next());
                }
                ready.addAll(generate(batch));
            }
            if (ready.isEmpty() && releaseAtEnd) {
                lease.close();
            }
            return !ready.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.poll();
        }

        private List<Row> generate(List<Row> batch) {
            Object[][] out = new Object[batch.size()][];
            List<Integer> pending = new ArrayList<>();
            List<int[]> ids = new ArrayList<>();
            List<GenerationConfig> configs = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                Row row = batch.get(i);
                out[i] = withOutputColumns(row);
                int[] promptIds;
                GenerationConfig rowConfig;
                try {
                    promptIds = encode(row);
                    out[i][row.size() + 3] = promptIds.length;
                    if (options.maxPromptTokens() > 0 && promptIds.length > options.maxPromptTokens()) {
                        throw new IllegalArgumentException("the prompt has " + promptIds.length
                                + " tokens, more than maxPromptTokens " + options.maxPromptTokens());
                    }
                    rowConfig = seeded(row);
                } catch (RuntimeException e) {
                    fail(out[i], position + i, e);
                    continue;
                }
                pending.add(i);
                ids.add(promptIds);
                configs.add(rowConfig);
            }
            List<Completion> done;
            try {
                done = ids.isEmpty() ? List.of() : model.generateBatchIds(ids, configs);
            } catch (RuntimeException batchFailure) {
                // One row's failure must not cost the batch: decode each alone to find it (same tokens as batched).
                done = null;
                for (int k = 0; k < pending.size(); k++) {
                    int i = pending.get(k);
                    try {
                        fill(
                                out[i],
                                model.generateBatchIds(List.of(ids.get(k)), List.of(configs.get(k)))
                                        .getFirst());
                    } catch (RuntimeException e) {
                        fail(out[i], position + i, e);
                    }
                }
            }
            if (done != null) {
                for (int k = 0; k < pending.size(); k++) {
                    fill(out[pending.get(k)], done.get(k));
                }
            }
            position += batch.size();
            List<Row> rowsOut = new ArrayList<>(batch.size());
            for (Object[] values : out) {
                rowsOut.add(RowFactory.create(values));
            }
            return rowsOut;
        }

        private int[] encode(Row row) {
            if (row.isNullAt(input.index())) {
                throw new IllegalArgumentException("column " + input.column() + " is null");
            }
            int[] ids;
            if (input.chat()) {
                ids = model.tokenizer().encodeChat(messages(row), true);
            } else {
                ids = model.tokenizer().encode(row.getString(input.index()), true);
            }
            if (ids.length == 0) {
                throw new IllegalArgumentException("the prompt encodes to no tokens");
            }
            return ids;
        }

        private List<ChatMessage> messages(Row row) {
            List<Row> structs = row.getList(input.index());
            if (structs.isEmpty()) {
                throw new IllegalArgumentException("column " + input.column() + " holds no messages");
            }
            List<ChatMessage> messages = new ArrayList<>(structs.size());
            for (int m = 0; m < structs.size(); m++) {
                Row s = structs.get(m);
                if (s == null || s.isNullAt(input.roleField()) || s.isNullAt(input.contentField())) {
                    throw new IllegalArgumentException(
                            "message " + m + " of column " + input.column() + " has a null role or content");
                }
                messages.add(new ChatMessage(s.getString(input.roleField()), s.getString(input.contentField())));
            }
            return messages;
        }

        /** The row's own seed, so a row samples the same tokens in any partition, batch or retried task. */
        private GenerationConfig seeded(Row row) {
            String key;
            if (input.seedIndex() >= 0) {
                if (row.isNullAt(input.seedIndex())) {
                    throw new IllegalArgumentException("seed column " + options.seedColumn() + " is null");
                }
                key = String.valueOf(row.get(input.seedIndex()));
            } else if (input.chat()) {
                StringBuilder b = new StringBuilder();
                for (ChatMessage m : messages(row)) {
                    b.append(m.role()).append('\0').append(m.content()).append('\u001e');
                }
                key = b.toString();
            } else {
                key = row.getString(input.index());
            }
            return config.toBuilder().seed(RowSeeds.of(options.seed(), key)).build();
        }

        private void fill(Object[] values, Completion c) {
            int base = values.length - FalconMambaSpark.OUTPUT_COLUMNS;
            int[] generated = c.ids();
            values[base] = c.text();
            // Spark's row encoder takes a Scala Seq for an array column.
            values[base + 1] = CollectionConverters.asScala(
                            Arrays.stream(generated).boxed().toList())
                    .toSeq();
            values[base + 2] = c.stopReason().name().toLowerCase(Locale.ROOT);
            values[base + 3] = c.promptIds().length;
            values[base + 4] = generated.length;
        }

        private void fail(Object[] values, long row, RuntimeException e) {
            String message =
                    e.getMessage() != null ? e.getMessage() : e.getClass().getName();
            if (options.failFast()) {
                throw new RowFailedException(
                        "row " + row + " of partition " + partition + " (" + input.column() + "): " + message, e);
            }
            values[values.length - 1] = message;
        }
    }

    /** The input row's values followed by the output columns, all null. */
    private static Object[] withOutputColumns(Row row) {
        Object[] values = new Object[row.size() + FalconMambaSpark.OUTPUT_COLUMNS];
        for (int i = 0; i < row.size(); i++) {
            values[i] = row.get(i);
        }
        return values;
    }
}
