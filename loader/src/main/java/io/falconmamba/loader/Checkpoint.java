package io.falconmamba.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.HugePages;
import io.falconmamba.core.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.CharacterCodingException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A model's weights as Hugging Face stores them in a directory: either one {@code model.safetensors}, or shards
 * listed by {@code model.safetensors.index.json}. Every shard is mapped once; tensors are zero-copy views.
 *
 * <p>How {@link #open(Path)} finds the files, in order:
 * <ol>
 *   <li>{@code model.safetensors.index.json}: its {@code weight_map} names each tensor's shard; every distinct
 *       shard is opened once and must hold the tensors the index promises it.</li>
 *   <li>{@code model.safetensors}.</li>
 *   <li>Otherwise every {@code *.safetensors} file in the directory, as one checkpoint: a tensor name in two of
 *       them is an error. (This covers shards whose index was lost; note it would also pick up unrelated
 *       safetensors files lying in the directory.)</li>
 * </ol>
 * A path to a single {@code .safetensors} file is accepted too.
 *
 * <p>All errors are {@link SafetensorsException}s naming the directory or file and, where it applies, the tensor.
 */
public final class Checkpoint implements WeightFiles {

    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String SINGLE_FILE = "model.safetensors";

    private final Path location;
    private final List<SafetensorsFile> files;
    /** tensor name → the file that holds it, sorted by name. */
    private final Map<String, SafetensorsFile> byName;

    private volatile boolean closed;

    private Checkpoint(Path location, List<SafetensorsFile> files, Map<String, SafetensorsFile> byName) {
        this.location = location;
        this.files = List.copyOf(files);
        this.byName = Collections.unmodifiableMap(byName);
    }

    /**
     * Opens the checkpoint in a model directory (or a single safetensors file).
     *
     * @throws SafetensorsException naming the directory, index, shard or tensor at fault
     */
    public static Checkpoint open(Path modelDir) {
        if (Files.isRegularFile(modelDir)) {
            SafetensorsFile f = SafetensorsFile.open(modelDir);
            return single(modelDir, f);
        }
        if (!Files.isDirectory(modelDir)) {
            throw new SafetensorsException(modelDir + ": no such model directory");
        }
        Path index = modelDir.resolve(INDEX_FILE);
        if (Files.exists(index)) {
            return openIndexed(modelDir, index);
        }
        Path single = modelDir.resolve(SINGLE_FILE);
        if (Files.exists(single)) {
            return single(modelDir, SafetensorsFile.open(single));
        }
        List<Path> candidates = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(modelDir, "*.safetensors")) {
            for (Path p : ds) {
                if (Files.isRegularFile(p)) {
                    candidates.add(p);
                }
            }
        } catch (IOException e) {
            throw new SafetensorsException(modelDir + ": cannot list the directory: " + e, e);
        }
        if (candidates.isEmpty()) {
            throw new SafetensorsException(modelDir + ": no weights found: looked for " + INDEX_FILE + ", "
                    + SINGLE_FILE + " and any *.safetensors file");
        }
        Collections.sort(candidates);
        return openAll(modelDir, candidates);
    }

    private static Checkpoint single(Path location, SafetensorsFile f) {
        Map<String, SafetensorsFile> byName = new TreeMap<>();
        for (String n : f.names()) {
            byName.put(n, f);
        }
        return new Checkpoint(location, List.of(f), byName);
    }

    private static Checkpoint openAll(Path dir, List<Path> paths) {
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> byName = new TreeMap<>();
            for (Path p : paths) {
                SafetensorsFile f = SafetensorsFile.open(p);
                opened.add(f);
                for (String n : f.names()) {
                    SafetensorsFile prev = byName.putIfAbsent(n, f);
                    if (prev != null) {
                        throw new SafetensorsException(dir + ": tensor '" + n + "' is in both "
                                + prev.path().getFileName() + " and " + p.getFileName() + " (no " + INDEX_FILE
                                + " to say which one counts)");
                    }
                }
            }
            return new Checkpoint(dir, opened, byName);
        } catch (RuntimeException e) {
            closeAll(opened, e);
            throw e;
        }
    }

    private static Checkpoint openIndexed(Path dir, Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Path base = dir.toAbsolutePath().normalize();
            Map<String, SafetensorsFile> byName = new TreeMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shardName = e.getValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    Path p = base.resolve(shardName).normalize();
                    if (!p.startsWith(base) || p.equals(base)) {
                        throw new SafetensorsException(index + ": shard '" + shardName + "' of tensor '" + e.getKey()
                                + "' is not a file inside " + dir);
                    }
                    if (!Files.exists(p)) {
                        throw new SafetensorsException(index + ": shard '" + shardName + "' (holding tensor '"
                                + e.getKey() + "') is missing: no file " + p);
                    }
                    shard = SafetensorsFile.open(p);
                    opened.add(shard);
                    shards.put(shardName, shard);
                }
                if (!shard.contains(e.getKey())) {
                    throw new SafetensorsException(index + ": tensor '" + e.getKey() + "' is mapped to shard '"
                            + shardName + "', but " + shard.path() + " has no tensor of that name");
                }
                byName.put(e.getKey(), shard);
            }
            return new Checkpoint(dir, opened, byName);
        } catch (RuntimeException e) {
            closeAll(opened, e);
            throw e;
        }
    }

    /** Reads {@code weight_map} of an index file: tensor name → shard file name. */
    static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Json.decodeUtf8(Files.readAllBytes(index)));
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(index + ": not valid UTF-8", e);
        } catch (IOException | RuntimeException e) {
            throw new SafetensorsException(index + ": cannot read the shard index: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(index + ": must be a JSON object, got " + Json.typeOf(root));
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new SafetensorsException(
                    index + ": 'weight_map' must be an object of tensor name to shard file, got " + Json.typeOf(wm));
        }
        if (wm.isEmpty()) {
            throw new SafetensorsException(index + ": 'weight_map' is empty");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : wm.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(index + ": weight_map entry of tensor '" + e.getKey()
                        + "' must be a shard file name, got " + Json.typeOf(e.getValue()));
            }
            m.put(e.getKey(), e.getValue().textValue());
        }
        return m;
    }

    private static void closeAll(List<SafetensorsFile> files, Throwable primary) {
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException suppressed) {
                primary.addSuppressed(suppressed);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The directory (or single file) this checkpoint was opened from. */
    @Override
    public Path location() {
        return location;
    }

    /** The safetensors files opened, each once. */
    public List<Path> files() {
        return files.stream().map(SafetensorsFile::path).toList();
    }

    /**
     * The pages behind the mapped files in this process (resident bytes, bytes in huge pages); empty where the
     * platform cannot tell.
     */
    @Override
    public Optional<HugePages.Backing> pageBacking() {
        ensureOpen();
        return HugePages.backing(files.stream().map(SafetensorsFile::mapping).toList());
    }

    /** The size of the safetensors files together. */
    @Override
    public long byteSize() {
        return files.stream().mapToLong(SafetensorsFile::fileSize).sum();
    }

    @Override
    public void released(MemorySegment data) {
        for (SafetensorsFile f : files) {
            f.released(data);
        }
    }

    /** What the kernel answered to the huge-page requests, per distinct answer over the files. */
    @Override
    public String hugePages() {
        return String.join(
                "; ", files.stream().map(SafetensorsFile::hugePages).distinct().toList());
    }

    /** Every tensor name, sorted. */
    @Override
    public Set<String> names() {
        ensureOpen();
        return byName.keySet();
    }

    @Override
    public boolean contains(String name) {
        ensureOpen();
        return byName.containsKey(name);
    }

    /**
     * The header entry of a tensor.
     *
     * @throws SafetensorsException naming the tensor when absent
     */
    public TensorInfo info(String name) {
        return fileOf(name).info(name);
    }

    @Override
    public String storedType(String name) {
        return info(name).dtype().name();
    }

    /** A tensor's raw bytes, zero-copy. */
    public MemorySegment slice(String name) {
        return fileOf(name).slice(name);
    }

    /**
     * A tensor, zero-copy.
     *
     * @throws SafetensorsException naming the tensor when absent or not F32/F16/BF16
     */
    @Override
    public Tensor tensor(String name) {
        return fileOf(name).tensor(name);
    }

    private SafetensorsFile fileOf(String name) {
        ensureOpen();
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw new SafetensorsException(location + ": checkpoint has no tensor named '" + name + "'");
        }
        return f;
    }

    /** Unmaps every file. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(location + ": checkpoint is closed");
        }
    }

    @Override
    public String toString() {
        return "Checkpoint[" + location + ", " + files.size() + " file(s), " + byName.size() + " tensors]";
    }
}
