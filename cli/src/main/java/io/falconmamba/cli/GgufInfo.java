package io.falconmamba.cli;

import io.falconmamba.loader.gguf.GgmlType;
import io.falconmamba.loader.gguf.GgufFile;
import io.falconmamba.loader.gguf.GgufTensorInfo;
import io.falconmamba.loader.gguf.GgufValue;
import java.io.PrintStream;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code info} on a GGUF file: read from the file alone (no model is built, so it works for every type the
 * reader knows): metadata, tensor types with their counts and bytes, and the bytes a token reads.
 *
 * <p>Bytes per token: every tensor once, except the embedding table, of which a token reads one row; a tied
 * model's embedding is also its output matrix and counts whole.
 */
final class GgufInfo {

    private GgufInfo() {}

    static void print(GgufFile f, PrintStream out) {
        out.printf("file:             %s%n", f.path());
        out.printf("gguf version:     %d (alignment %d, %,d bytes)%n", f.version(), f.alignment(), f.fileSize());
        out.println("metadata:");
        for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
            out.printf(
                    "  %-44s %-18s %s%n",
                    e.getKey(), e.getValue().typeName(), e.getValue().show());
        }
        record Stat(int count, long elements, long bytes) {}
        Map<GgmlType, Stat> byType = new TreeMap<>();
        long total = 0;
        long perToken = 0;
        boolean tied = !f.contains("output.weight");
        for (GgufTensorInfo t : f.tensors().values()) {
            byType.merge(
                    t.type(),
                    new Stat(1, t.elements(), t.bytes()),
                    (a, b) -> new Stat(a.count + b.count, a.elements + b.elements, a.bytes + b.bytes));
            total += t.bytes();
            boolean embedding = t.name().equals("token_embd.weight");
            long rows = t.shape().length == 0 ? 1 : t.elements() / t.rowLength();
            perToken += embedding && !tied ? t.bytes() / Math.max(1, rows) : t.bytes();
        }
        out.printf("tensors:          %d%n", f.tensors().size());
        for (Map.Entry<GgmlType, Stat> e : byType.entrySet()) {
            Stat s = e.getValue();
            out.printf(
                    "  %-8s %4d tensors %,16d values %,16d bytes (%.3f bits/value)%n",
                    e.getKey(), s.count, s.elements, s.bytes, s.elements == 0 ? 0.0 : 8.0 * s.bytes / s.elements);
        }
        out.printf("weight bytes:     %,d (%.2f GB, memory-mapped)%n", total, total / 1e9);
        out.printf("read per token:   %,d bytes%n", perToken);
    }
}
