package io.falconmamba.core.generation;

import io.falconmamba.core.FalconMambaModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * The disk tier of a {@link SessionCache}: states evicted from memory are written to files in a directory, and a
 * later request whose prefix matches one loads it back. Bounded by bytes on disk; the least recently written or
 * looked-up files are deleted first.
 *
 * <p>One file per state: magic {@code FMSP}, format version, a CRC32C of the rest, the key's token count and ids,
 * then the {@link Session#snapshot()} (which carries the model identity and a checksum of its own). A file is written
 * to a temporary name and renamed, so a reader never sees half a file. A file that fails any check (truncated,
 * flipped bits, another model, another key) is deleted and counts as a miss; it is never an error to the caller.
 *
 * <p>The directory belongs to one instance: {@link #open} takes an exclusive lock on {@value #LOCK_FILE} in it (a
 * second instance, in this process or another, is refused) and deletes the state files a previous instance left (the
 * index of which file holds which tokens lives in memory only). {@link #close} deletes the state files and releases
 * the lock. Files that are not this class's ({@code *}{@value #SUFFIX}) are left alone.
 *
 * <p>Thread-safe: the index is guarded by this object; file reads and writes happen outside that lock.
 */
public final class StateSpill implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(StateSpill.class.getName());

    static final String LOCK_FILE = ".falcon-mamba-spill.lock";
    static final String SUFFIX = ".fmstate";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final int MAGIC = 0x464D5350; // "FMSP"
    private static final int VERSION = 1;
    /** Magic, version, CRC32C, key length. */
    private static final int HEADER_BYTES = 4 + 4 + 4 + 4;

    /** Counters since the spill was opened. */
    public record Stats(
            long spilled, long loaded, long rejected, long evictions, int files, long bytes, long maxBytes) {

        /** The counters of no spill at all. */
        public static final Stats NONE = new Stats(0, 0, 0, 0, 0, 0, 0);
    }

    /** A state on disk. */
    private record Entry(Path file, long bytes) {}

    private final Path directory;
    private final long maxBytes;
    private final FalconMambaModel model;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final AtomicLong fileNumber = new AtomicLong();

    /** Access order, so iteration starts at the least recently used. */
    private final LinkedHashMap<SessionCache.Key, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);

    private long bytes;
    private long spilled;
    private long loaded;
    private long rejected;
    private long evictions;
    private boolean closed;

    private StateSpill(Path directory, long maxBytes, FalconMambaModel model, FileChannel lockChannel, FileLock lock) {
        this.directory = directory;
        this.maxBytes = maxBytes;
        this.model = model;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Takes {@code directory} (created if missing) for states of {@code model}, at most {@code maxBytes} bytes of
     * files, and deletes the state files a previous instance left there.
     *
     * @throws IllegalStateException when another instance holds the directory
     * @throws IOException           when the directory cannot be created, locked or cleared
     */
    public static StateSpill open(Path directory, long maxBytes, FalconMambaModel model) throws IOException {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(model, "model");
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must be >= 0, got " + maxBytes);
        }
        Files.createDirectories(directory);
        Path lockPath = directory.resolve(LOCK_FILE);
        FileChannel channel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IllegalStateException("state spill directory " + directory + " is in use by another server ("
                    + lockPath + " is locked); give each server its own directory");
        }
        StateSpill spill = new StateSpill(directory, maxBytes, model, channel, lock);
        try {
            spill.deleteStateFiles();
        } catch (IOException | RuntimeException e) {
            spill.close();
            throw e;
        }
        return spill;
    }

    public Path directory() {
        return directory;
    }

    /**
     * Writes {@code session} under {@code key}, replacing a file with the same key, then deletes least recently used
     * files until the spill fits its budget. A state larger than the whole budget is not written. A write that fails
     * is logged and dropped (the state is then simply not cached).
     */
    void write(SessionCache.Key key, Session session) {
        synchronized (this) {
            if (closed) {
                return;
            }
        }
        byte[] bytes = encode(key.ids, session.snapshot());
        if (bytes.length > maxBytes) {
            return;
        }
        Path file = directory.resolve("state-" + fileNumber.incrementAndGet() + SUFFIX);
        Path temp = file.resolveSibling(file.getFileName() + TEMP_SUFFIX);
        try {
            Files.write(temp, bytes);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UncheckedIOException e) {
            LOG.log(Level.WARNING, "could not spill a state to " + file + ": " + e.getMessage());
            deleteQuietly(temp);
            return;
        }
        synchronized (this) {
            if (closed) {
                deleteQuietly(file);
                return;
            }
            Entry old = entries.put(key, new Entry(file, bytes.length));
            if (old != null) {
                this.bytes -= old.bytes;
                deleteQuietly(old.file);
            }
            this.bytes += bytes.length;
            spilled++;
            Iterator<Map.Entry<SessionCache.Key, Entry>> it = entries.entrySet().iterator();
            while (this.bytes > maxBytes && it.hasNext()) {
                Map.Entry<SessionCache.Key, Entry> e = it.next();
                if (e.getKey().equals(key)) {
                    continue;
                }
                this.bytes -= e.getValue().bytes;
                deleteQuietly(e.getValue().file);
                it.remove();
                evictions++;
            }
        }
    }

    /** The longest key on disk that is a prefix of {@code tokens} and longer than {@code longerThan}, or null. */
    synchronized SessionCache.Key longestPrefix(int[] tokens, int longerThan) {
        SessionCache.Key best = null;
        for (SessionCache.Key k : entries.keySet()) {
            if (k.ids.length <= tokens.length
                    && k.ids.length > (best == null ? longerThan : best.ids.length)
                    && k.isPrefixOf(tokens)) {
                best = k;
            }
        }
        return best;
    }

    /**
     * Takes the state kept under {@code key} off the disk (its file is deleted: the caller keeps it in memory now),
     * or null when there is none or its file fails a check (logged, and counted as rejected).
     */
    Session load(SessionCache.Key key) {
        Entry entry;
        synchronized (this) {
            entry = entries.remove(key);
            if (entry == null) {
                return null;
            }
            bytes -= entry.bytes;
        }
        try {
            Session s = decode(key, Files.readAllBytes(entry.file));
            synchronized (this) {
                loaded++;
            }
            return s;
        } catch (IOException | IllegalArgumentException e) {
            LOG.log(
                    Level.WARNING,
                    "spilled state " + entry.file + " is unusable, treated as a miss: " + e.getMessage());
            synchronized (this) {
                rejected++;
            }
            return null;
        } finally {
            deleteQuietly(entry.file);
        }
    }

    /** Deletes every state file. */
    synchronized void clear() {
        for (Entry e : entries.values()) {
            deleteQuietly(e.file);
        }
        entries.clear();
        bytes = 0;
    }

    public synchronized Stats stats() {
        return new Stats(spilled, loaded, rejected, evictions, entries.size(), bytes, maxBytes);
    }

    /** Deletes the state files and releases the directory. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            clear();
        }
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not release " + directory.resolve(LOCK_FILE) + ": " + e.getMessage());
        }
    }

    private static byte[] encode(int[] key, byte[] snapshot) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + 4 * key.length + snapshot.length)
                .putInt(MAGIC)
                .putInt(VERSION)
                .putInt(0)
                .putInt(key.length);
        for (int id : key) {
            b.putInt(id);
        }
        b.put(snapshot);
        b.putInt(8, crc(b.array()));
        return b.array();
    }

    /** CRC32C of everything after the checksum field. */
    private static int crc(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 12, bytes.length - 12);
        return (int) crc.getValue();
    }

    /** The session a file holds, after checking it is a spill file of this format, intact, and for {@code key}. */
    private Session decode(SessionCache.Key key, byte[] bytes) {
        if (bytes.length < HEADER_BYTES) {
            throw new IllegalArgumentException("truncated: " + bytes.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (b.getInt() != MAGIC) {
            throw new IllegalArgumentException("not a state spill file (bad magic)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new IllegalArgumentException("format version " + version + ", expected " + VERSION);
        }
        if (b.getInt() != crc(bytes)) {
            throw new IllegalArgumentException("checksum mismatch (CRC32C): corrupt or truncated");
        }
        int n = b.getInt();
        if (n != key.ids.length || (long) 4 * n > b.remaining()) {
            throw new IllegalArgumentException("holds a key of " + n + " tokens, expected " + key.ids.length);
        }
        for (int i = 0; i < n; i++) {
            if (b.getInt() != key.ids[i]) {
                throw new IllegalArgumentException("holds another token sequence (differs at index " + i + ")");
            }
        }
        byte[] snapshot = new byte[b.remaining()];
        b.get(snapshot);
        return Session.restore(model, snapshot); // checks the model identity, its own checksum and consistency
    }

    /** Deletes what {@code *.fmstate} and {@code *.fmstate.tmp} files the directory holds. */
    private void deleteStateFiles() throws IOException {
        try (DirectoryStream<Path> files =
                Files.newDirectoryStream(directory, "*{" + SUFFIX + "," + SUFFIX + TEMP_SUFFIX + "}")) {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not delete " + file + ": " + e.getMessage());
        }
    }
}
