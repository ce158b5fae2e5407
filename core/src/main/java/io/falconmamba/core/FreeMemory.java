package io.falconmamba.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How much more memory this process can take: the kernel's {@code MemAvailable}, bounded by the headroom under
 * the memory limit of the process's cgroup (a container's limit: {@code /proc/meminfo} shows the whole machine, and
 * a copy sized by it alone would get the container killed). cgroup v2 ({@code memory.max}, {@code memory.current})
 * and v1 ({@code memory.limit_in_bytes}, {@code memory.usage_in_bytes}); the usage counts the cgroup's page cache,
 * so the headroom errs low. Linux only: elsewhere unknown.
 */
final class FreeMemory {

    /** Limits at or above this are the kernel's "no limit" (v1 writes a value near 2^63). */
    private static final long UNLIMITED = 1L << 60;

    private FreeMemory() {}

    /** Bytes this process can still take; -1 when unknown. */
    static long bytes() {
        return bytes(Path.of("/proc"), Path.of("/sys/fs/cgroup"));
    }

    /**
     * As {@link #bytes()}, reading {@code proc/meminfo}, {@code proc/self/cgroup} and the cgroup files below
     * {@code cgroupRoot}.
     */
    static long bytes(Path proc, Path cgroupRoot) {
        long available = memAvailable(proc.resolve("meminfo"));
        long headroom = cgroupHeadroom(proc.resolve("self/cgroup"), cgroupRoot);
        if (available < 0) {
            return headroom;
        }
        return headroom < 0 ? available : Math.min(available, headroom);
    }

    private static long memAvailable(Path meminfo) {
        for (String line : lines(meminfo)) {
            if (line.startsWith("MemAvailable:")) {
                String[] parts = line.substring("MemAvailable:".length()).trim().split("\\s+");
                return parts.length == 2 && parts[1].equals("kB") ? number(parts[0], 1024) : -1;
            }
        }
        return -1;
    }

    /** Limit minus usage of the process's memory cgroup; -1 when there is no limit or no cgroup to read. */
    private static long cgroupHeadroom(Path selfCgroup, Path root) {
        for (String line : lines(selfCgroup)) {
            String[] f = line.split(":", 3); // hierarchy-id:controllers:path
            if (f.length != 3) {
                continue;
            }
            long headroom = -1;
            if (f[0].equals("0") && f[1].isEmpty()) { // cgroup v2
                headroom = headroom(root, f[2], "memory.max", "memory.current");
            } else if (List.of(f[1].split(",")).contains("memory")) { // cgroup v1
                headroom = headroom(root.resolve("memory"), f[2], "memory.limit_in_bytes", "memory.usage_in_bytes");
            }
            if (headroom >= 0) {
                return headroom;
            }
        }
        return -1;
    }

    /**
     * The headroom in the cgroup directory {@code path} below {@code base}, or in {@code base} itself (a container
     * sees its own cgroup as the root); -1 without a limit.
     */
    private static long headroom(Path base, String path, String limitFile, String usageFile) {
        for (Path dir : List.of(base.resolve(path.replaceFirst("^/+", "")), base)) {
            List<String> limit = lines(dir.resolve(limitFile));
            List<String> usage = lines(dir.resolve(usageFile));
            if (limit.isEmpty() || usage.isEmpty()) {
                continue;
            }
            String l = limit.get(0).trim();
            long max = l.equals("max") ? -1 : number(l, 1);
            long used = number(usage.get(0).trim(), 1);
            if (max < 0 || max >= UNLIMITED || used < 0) {
                return -1;
            }
            return Math.max(0, max - used);
        }
        return -1;
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | RuntimeException e) {
            return List.of(); // not Linux, or not readable here: unknown
        }
    }

    private static long number(String s, long unit) {
        try {
            long v = Long.parseLong(s);
            return v < 0 || v > Long.MAX_VALUE / unit ? -1 : v * unit;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
