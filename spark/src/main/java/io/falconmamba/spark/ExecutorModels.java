package io.falconmamba.spark;

import io.falconmamba.FalconMamba;
import io.falconmamba.spark.GenerationOptions.ModelKey;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkFiles;
import org.apache.spark.TaskContext;

/**
 * The models of this JVM (one Spark executor, or the driver in local mode): each loaded once, on first use, and
 * shared by every task that asks for the same {@link ModelKey}. The weights are memory-mapped, so all executors of
 * one machine share one copy in the page cache.
 *
 * <p>Tasks hold a model through a {@link Lease}. A model nobody holds stays loaded for the executor's next task,
 * until a task asks for a different model (an idle model is closed then, so switching models does not keep two in
 * memory) or {@link #closeIdle()} is called.
 */
public final class ExecutorModels {

    private static final Map<ModelKey, Entry> ENTRIES = new HashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    private ExecutorModels() {}

    /** Models loaded in this JVM so far (each key counts once unless it was closed and loaded again). */
    public static int loadCount() {
        return LOADS.get();
    }

    /** Closes the models no task holds. */
    public static void closeIdle() {
        List<Entry> idle = new ArrayList<>();
        synchronized (ENTRIES) {
            ENTRIES.values().removeIf(e -> {
                if (e.refs == 0) {
                    idle.add(e);
                    return true;
                }
                return false;
            });
        }
        idle.forEach(Entry::close);
    }

    /** The model of {@code key}, loading it if this JVM has not yet; close the lease when the task is done. */
    static Lease acquire(ModelKey key) {
        Entry entry;
        List<Entry> idle = new ArrayList<>();
        synchronized (ENTRIES) {
            ENTRIES.values().removeIf(e -> {
                if (e.refs == 0 && !e.key.equals(key)) {
                    idle.add(e);
                    return true;
                }
                return false;
            });
            entry = ENTRIES.computeIfAbsent(key, Entry::new);
            entry.refs++;
        }
        idle.forEach(Entry::close);
        try {
            return new Lease(entry, entry.model());
        } catch (RuntimeException | Error e) {
            release(entry);
            throw e;
        }
    }

    private static void release(Entry entry) {
        synchronized (ENTRIES) {
            entry.refs--;
            // A model that failed to load is not kept: the next task tries again.
            if (entry.refs == 0 && !entry.isLoaded()) {
                ENTRIES.remove(entry.key, entry);
            }
        }
    }

    /**
     * Where the executor finds the model: the path as given (a shared file system, or a directory {@code --archives}
     * unpacked into the working directory), else a directory shipped with {@code SparkContext.addFile(dir, true)},
     * else a Hugging Face repo id.
     */
    static FalconMamba load(ModelKey key) {
        Path dir = localDirectory(key.model());
        if (dir == null && TaskContext.get() != null) {
            dir = localDirectory(SparkFiles.get(key.model()));
        }
        return dir != null
                ? FalconMamba.load(dir, key.loadOptions())
                : FalconMamba.load(key.model(), key.loadOptions());
    }

    private static Path localDirectory(String name) {
        try {
            Path p = Path.of(name);
            return Files.isDirectory(p) ? p : null;
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /** One task's hold on a model. */
    static final class Lease implements AutoCloseable {
        private final Entry entry;
        private final FalconMamba model;
        private boolean closed;

        private Lease(Entry entry, FalconMamba model) {
            this.entry = entry;
            this.model = model;
        }

        FalconMamba model() {
            return model;
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                release(entry);
            }
        }
    }

    private static final class Entry {
        final ModelKey key;
        /** Leases held; guarded by ENTRIES. */
        int refs;
        /** Set once, under this entry's lock. */
        private FalconMamba model;

        Entry(ModelKey key) {
            this.key = key;
        }

        /** Loads on first call; a concurrent caller waits for that load instead of loading a second copy. */
        synchronized FalconMamba model() {
            if (model == null) {
                model = load(key);
                LOADS.incrementAndGet();
            }
            return model;
        }

        synchronized boolean isLoaded() {
            return model != null;
        }

        synchronized void close() {
            if (model != null) {
                model.close();
            }
        }
    }
}
