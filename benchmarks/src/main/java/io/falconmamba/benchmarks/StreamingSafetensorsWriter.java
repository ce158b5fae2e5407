package io.falconmamba.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files whose tensor data never sits on the heap as a whole: the header is computed
 * from the declared tensors first, then each tensor's bytes are produced chunk by chunk into a reused
 * direct buffer and written through a {@link FileChannel}. Large checkpoints are split into shards with a
 * Hugging Face {@code model.safetensors.index.json}.
 */
public final class StreamingSafetensorsWriter {

    /** Produces one tensor's elements {@code [from, from + count)} as little-endian bytes into {@code out}. */
    @FunctionalInterface
    public interface Filler {
        void fill(long from, int count, ByteBuffer out);
    }

    /** One tensor to write. */
    public record Spec(String name, String dtype, int elementBytes, long[] shape, Filler filler) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        long bytes() {
            return elements() * elementBytes;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK_BYTES = 8 << 20;

    private StreamingSafetensorsWriter() {}

    /**
     * Writes {@code specs} into {@code dir}: one {@code model.safetensors} when the data fit in
     * {@code shardBytes}, else {@code model-0000i-of-0000n.safetensors} shards plus the index.
     *
     * @return the files written
     */
    public static List<Path> write(Path dir, List<Spec> specs, long shardBytes, Map<String, String> metadata)
            throws IOException {
        Files.createDirectories(dir);
        List<List<Spec>> shards = new ArrayList<>();
        List<Spec> current = new ArrayList<>();
        long size = 0;
        long total = 0;
        for (Spec s : specs) {
            if (!current.isEmpty() && size + s.bytes() > shardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(s);
            size += s.bytes();
            total += s.bytes();
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        List<Path> written = new ArrayList<>();
        if (shards.size() == 1) {
            Path p = dir.resolve("model.safetensors");
            writeFile(p, shards.get(0), metadata);
            Files.deleteIfExists(dir.resolve("model.safetensors.index.json"));
            written.add(p);
            return written;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        int n = shards.size();
        for (int i = 0; i < n; i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, n);
            Path p = dir.resolve(name);
            writeFile(p, shards.get(i), metadata);
            for (Spec s : shards.get(i)) {
                map.put(s.name(), name);
            }
            written.add(p);
        }
        Files.deleteIfExists(dir.resolve("model.safetensors"));
        Path idx = dir.resolve("model.safetensors.index.json");
        Files.writeString(idx, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        written.add(idx);
        return written;
    }

    /** One safetensors file, written to a temporary name and moved into place. */
    static void writeFile(Path target, List<Spec> specs, Map<String, String> metadata) throws IOException {
        byte[] header = header(specs, metadata);
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(header.length).put(header).flip();
            writeFully(ch, head);
            for (Spec s : specs) {
                long elements = s.elements();
                int perChunk = CHUNK_BYTES / s.elementBytes();
                for (long from = 0; from < elements; from += perChunk) {
                    int count = (int) Math.min(perChunk, elements - from);
                    buf.clear();
                    s.filler().fill(from, count, buf);
                    if (buf.position() != count * s.elementBytes()) {
                        throw new IllegalStateException(s.name() + ": filler wrote " + buf.position()
                                + " bytes, expected " + (long) count * s.elementBytes());
                    }
                    buf.flip();
                    writeFully(ch, buf);
                }
            }
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static byte[] header(List<Spec> specs, Map<String, String> metadata) {
        Map<String, Object> root = new LinkedHashMap<>();
        ObjectNode node = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = node.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Spec s : specs) {
            ObjectNode t = node.putObject(s.name());
            t.put("dtype", s.dtype());
            ArrayNode shape = t.putArray("shape");
            for (long d : s.shape()) {
                shape.add(d);
            }
            ArrayNode o = t.putArray("data_offsets");
            o.add(offset);
            offset += s.bytes();
            o.add(offset);
        }
        root.clear();
        byte[] json;
        try {
            json = JSON.writeValueAsString(node).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] h = Arrays.copyOf(json, padded);
        Arrays.fill(h, json.length, padded, (byte) ' ');
        return h;
    }
}
