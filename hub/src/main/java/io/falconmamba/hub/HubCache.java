package io.falconmamba.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The Hugging Face hub cache layout, as huggingface_hub writes it:
 * <pre>
 * {root}/models--{org}--{name}/
 *     blobs/{etag}                      file contents, named by etag (sha256 for LFS files)
 *     refs/{revision}                   the commit a branch or tag pointed to
 *     snapshots/{commit}/{file}         relative symlink to ../../blobs/{etag} (or a copy)
 * {root}/.locks/models--{org}--{name}/{etag}.lock
 * </pre>
 * Also checks that a directory holds a complete model (config.json and all the weights).
 */
final class HubCache {

    static final String CONFIG = "config.json";
    static final String SINGLE_WEIGHTS = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private HubCache() {}

    static Path repoDir(Path root, RepoId repo) {
        return root.resolve(repo.cacheFolderName());
    }

    static Path lockDir(Path root, RepoId repo) {
        return root.resolve(".locks").resolve(repo.cacheFolderName());
    }

    /**
     * The commit a revision stands for in the cache: the revision itself if it is a commit hash, else the
     * content of {@code refs/{revision}}; {@code null} if unknown.
     */
    static String commitFor(Path repoDir, String revision) {
        if (RepoId.isCommitHash(revision)) {
            return revision;
        }
        Path ref = refFile(repoDir, revision);
        try {
            if (!Files.isRegularFile(ref)) {
                return null;
            }
            String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            return isSafeName(commit) ? commit : null;
        } catch (IOException e) {
            return null;
        }
    }

    static Path refFile(Path repoDir, String revision) {
        Path refs = repoDir.resolve("refs");
        Path ref = refs;
        for (String segment : revision.split("/")) {
            ref = ref.resolve(segment);
        }
        return ref;
    }

    static void writeRef(Path repoDir, String revision, String commit) {
        Path ref = refFile(repoDir, revision);
        try {
            Files.createDirectories(ref.getParent());
            // A fresh temporary name per call: threads of one process resolving the same repo write the
            // same ref at once, and a name shared between them let one rename away the other's file.
            Path tmp = Files.createTempFile(ref.getParent(), ref.getFileName() + ".", ".tmp");
            try {
                Files.writeString(tmp, commit, StandardCharsets.UTF_8);
                moveReplacing(tmp, ref);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new HubException(HubException.Reason.IO, "cannot write " + ref + ": " + e.getMessage(), e);
        }
    }

    /**
     * Points {@code snapshotDir/file} at {@code blob} with a relative symlink, like huggingface_hub. Where
     * symlinks are not available the blob is moved there if it was just downloaded (as huggingface_hub
     * does, so the bytes are not stored twice), else copied.
     */
    static void link(Path snapshotDir, String file, Path blob, boolean newBlob) {
        Path target = snapshotDir.resolve(file);
        try {
            Files.createDirectories(target.getParent());
            Path relative = target.getParent().toAbsolutePath().relativize(blob.toAbsolutePath());
            // Link under a temporary name, then rename over the target: atomic, and safe when two
            // threads or processes place the same file at once.
            Path tmp = target.resolveSibling(
                    target.getFileName() + ".link-" + ProcessHandle.current().pid() + "-"
                            + Thread.currentThread().threadId());
            boolean linked = false;
            try {
                Files.deleteIfExists(tmp);
                Files.createSymbolicLink(tmp, relative);
                linked = true;
            } catch (UnsupportedOperationException | IOException | SecurityException e) {
                // no symlinks here (e.g. Windows without developer mode): fall back below
            }
            if (linked) {
                moveReplacing(tmp, target);
                return;
            }
            if (newBlob) {
                moveReplacing(blob, target);
            } else {
                Files.copy(blob, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new HubException(
                    HubException.Reason.IO,
                    "cannot place " + file + " in snapshot " + snapshotDir + ": " + e.getMessage(),
                    e);
        }
    }

    static void moveReplacing(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The regular files of a snapshot directory (followed links included), by name, sorted; empty if absent. */
    static List<String> listFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile)
                    .map(p -> p.getFileName().toString())
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new HubException(HubException.Reason.IO, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The files a model directory lacks: {@code config.json}, and the weights ({@code model.safetensors},
     * else {@code model.safetensors.index.json} and every shard it names). Empty when complete. Symlinks
     * are followed, so a link to a missing blob counts as missing.
     */
    static List<String> missingFiles(Path dir) {
        List<String> missing = new ArrayList<>();
        if (!Files.isRegularFile(dir.resolve(CONFIG))) {
            missing.add(CONFIG);
        }
        if (Files.isRegularFile(dir.resolve(SINGLE_WEIGHTS))) {
            return missing;
        }
        Path index = dir.resolve(INDEX);
        if (!Files.isRegularFile(index)) {
            if (Files.isRegularFile(dir.resolve("pytorch_model.bin"))
                    || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"))) {
                missing.add(SINGLE_WEIGHTS + " or " + INDEX
                        + " (only PyTorch .bin weights found; convert them to safetensors)");
            } else {
                missing.add(SINGLE_WEIGHTS + " or " + INDEX);
            }
            return missing;
        }
        for (String shard : shardNames(index)) {
            if (!Files.isRegularFile(dir.resolve(shard))) {
                missing.add(shard);
            }
        }
        return missing;
    }

    /** The distinct shard file names of a {@code model.safetensors.index.json}, sorted, each checked to be a safe relative path. */
    static List<String> shardNames(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new HubException(
                    HubException.Reason.INCOMPLETE_MODEL, "cannot read " + index + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new HubException(
                    HubException.Reason.INCOMPLETE_MODEL, index + " has no 'weight_map' object (or it is empty)");
        }
        TreeSet<String> shards = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isTextual()) {
                throw new HubException(
                        HubException.Reason.INCOMPLETE_MODEL,
                        index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            }
            String shard = v.asText();
            if (!isSafeRelativePath(shard)) {
                throw new HubException(
                        HubException.Reason.INCOMPLETE_MODEL,
                        index + ": weight_map entry '" + e.getKey() + "' names an unsafe path '" + shard + "'");
            }
            shards.add(shard);
        }
        return List.copyOf(shards);
    }

    /** A path inside a repository: relative, '/'-separated, no empty, '.' or '..' segments, no backslash or NUL. */
    static boolean isSafeRelativePath(String path) {
        if (path == null
                || path.isEmpty()
                || path.length() > 1024
                || path.startsWith("/")
                || path.indexOf('\\') >= 0
                || path.indexOf('\0') >= 0
                || path.indexOf(':') >= 0) {
            return false;
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return false;
            }
        }
        return true;
    }

    /** A single file-name component made of letters, digits, '.', '_' and '-' (not '.' or '..'). */
    static boolean isSafeName(String name) {
        if (name == null || name.isEmpty() || name.length() > 255 || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '.'
                    || c == '_'
                    || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
