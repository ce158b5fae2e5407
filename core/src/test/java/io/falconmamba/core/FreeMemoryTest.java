package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FreeMemory} over fake {@code /proc} and cgroup trees laid out as the kernel writes them. */
class FreeMemoryTest {

    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private Path proc(long availableKib, String selfCgroup) throws IOException {
        Path proc = dir.resolve("proc");
        Files.createDirectories(proc.resolve("self"));
        Files.writeString(
                proc.resolve("meminfo"),
                "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   " + availableKib + " kB\n");
        Files.writeString(proc.resolve("self/cgroup"), selfCgroup);
        return proc;
    }

    private void write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    @Test
    void withoutACgroupLimitItIsMemAvailable() throws IOException {
        Path proc = proc(20 * GIB / 1024, "0::/user.slice\n");
        Path cg = dir.resolve("cg");
        write(cg.resolve("user.slice/memory.max"), "max\n");
        write(cg.resolve("user.slice/memory.current"), "123456\n");
        assertEquals(20 * GIB, FreeMemory.bytes(proc, cg));
    }

    @Test
    void aContainerLimitBoundsIt() throws IOException {
        // cgroup v2, the container's own cgroup seen as the root of its namespace.
        Path proc = proc(60 * GIB / 1024, "0::/\n");
        Path cg = dir.resolve("cg");
        write(cg.resolve("memory.max"), String.valueOf(8 * GIB));
        write(cg.resolve("memory.current"), String.valueOf(2 * GIB));
        assertEquals(6 * GIB, FreeMemory.bytes(proc, cg));
        // A 14.5 GB checkpoint is then mapped, not copied into a container that cannot hold it.
        assertEquals(WeightStorage.MAPPED, WeightStorage.resolve(14_500_000_000L, FreeMemory.bytes(proc, cg)));
    }

    @Test
    void cgroupV1LimitsAreReadFromTheMemoryHierarchy() throws IOException {
        Path proc = proc(60 * GIB / 1024, "9:name=systemd:/\n4:memory:/jobs/a1\n0::/\n");
        Path cg = dir.resolve("cg");
        write(cg.resolve("memory/jobs/a1/memory.limit_in_bytes"), String.valueOf(16 * GIB));
        write(cg.resolve("memory/jobs/a1/memory.usage_in_bytes"), String.valueOf(4 * GIB));
        assertEquals(12 * GIB, FreeMemory.bytes(proc, cg));
        // v1 without a limit writes a value near 2^63.
        write(cg.resolve("memory/jobs/a1/memory.limit_in_bytes"), "9223372036854771712");
        assertEquals(60 * GIB, FreeMemory.bytes(proc, cg));
    }

    @Test
    void unreadableOrMalformedFilesMeanUnknownNotACrash() throws IOException {
        assertEquals(-1, FreeMemory.bytes(dir.resolve("nothing"), dir.resolve("nothing")));
        Path proc = dir.resolve("proc");
        write(proc.resolve("meminfo"), "MemAvailable: lots\n");
        write(proc.resolve("self/cgroup"), "garbage\n");
        assertEquals(-1, FreeMemory.bytes(proc, dir.resolve("cg")));
    }

    @Test
    void thisMachineAnswers() {
        if (Files.isReadable(Path.of("/proc/meminfo"))) {
            assertTrue(FreeMemory.bytes() > 0, "MemAvailable or a cgroup headroom on Linux");
        }
    }
}
