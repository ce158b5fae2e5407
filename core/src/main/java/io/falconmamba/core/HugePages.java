package io.falconmamba.core;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Transparent huge pages (2 MiB) for the weights, on Linux through libc's {@code mmap}/{@code madvise}: decode
 * streams gigabytes of weights per second, and in 4 KiB pages every 4 KiB costs a TLB entry. Where the calls or
 * the kernel feature are missing, every method degrades to "not done" and says why; nothing here throws on an
 * unsupported platform.
 */
@SuppressWarnings("restricted") // mmap, madvise and mincore through the FFM linker: the launcher enables native access
public final class HugePages {

    /** The huge page size the alignment targets (x86-64 and arm64 with 4 KiB base pages). */
    public static final long SIZE = 2L << 20;

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 2;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final int MADV_COLLAPSE = 25;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;

    /** Links libc's calls on first use: linking costs a tenth of a second of start-up, which small models skip. */
    private static final class Libc {
        static final Native NATIVE = Native.load();
    }

    private HugePages() {}

    /** Whether the native calls are available (Linux x86-64 or arm64). */
    public static boolean supported() {
        return Libc.NATIVE != null;
    }

    /**
     * Asks the kernel to back {@code seg} (a mapping of a file or anonymous memory) with huge pages where it reads
     * or faults it in ({@code MADV_HUGEPAGE}): a file read in cold then arrives in 2 MiB page-cache folios.
     *
     * @return {@code "ok"} or why not
     */
    public static String adviseHuge(MemorySegment seg) {
        return madvise(seg, MADV_HUGEPAGE);
    }

    /**
     * Asks the kernel to rebuild {@code seg} in huge pages now ({@code MADV_COLLAPSE}, Linux 6.1+), reading in
     * what is not resident. File mappings need a kernel and file system that allow it (for regular files
     * {@code CONFIG_READ_ONLY_THP_FOR_FS}); elsewhere the kernel answers {@code EINVAL}.
     *
     * @return {@code "ok"} or why not
     */
    public static String collapse(MemorySegment seg) {
        return madvise(seg, MADV_COLLAPSE);
    }

    /**
     * Asks for 2 MiB pages behind a mapped weight file: a file read in cold then arrives in huge page-cache pages; a
     * file mostly in the page cache already (just written, converted or copied: often in 4 KiB pages) is collapsed
     * into huge pages where the kernel allows it. Decode reads every weight per token, and 4 KiB pages slow it.
     * Files under {@link WeightStorage#MIN_COPY} are left alone, as {@link WeightStorage#AUTO} leaves them mapped.
     *
     * @return what the kernel answered, for {@code info} and {@code bench}
     */
    public static String adviseWeights(MemorySegment file) {
        if (file.byteSize() < WeightStorage.MIN_COPY) {
            return "not asked (a small file, read from the CPU caches after the first token)";
        }
        String advise = adviseHuge(file);
        if (!advise.equals("ok")) {
            return "MADV_HUGEPAGE " + advise;
        }
        double cached = residentShare(file);
        if (cached < 0.5) {
            return "MADV_HUGEPAGE ok (file read in on demand)";
        }
        return "MADV_HUGEPAGE ok, MADV_COLLAPSE " + collapse(file);
    }

    /**
     * Share of {@code seg}'s pages (a file mapping) that sit in the page cache ({@code mincore}), whatever their
     * size; -1 where unknown.
     */
    public static double residentShare(MemorySegment seg) {
        if (Libc.NATIVE == null || seg.byteSize() == 0) {
            return -1;
        }
        long page = 4096;
        long start = seg.address() & -page;
        long length = seg.address() + seg.byteSize() - start;
        long pages = (length + page - 1) / page;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment vec = a.allocate(pages);
            if (Libc.NATIVE.mincore(start, length, vec) != 0) {
                return -1;
            }
            long in = 0;
            for (long i = 0; i < pages; i++) {
                in += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            }
            return (double) in / pages;
        }
    }

    private static String madvise(MemorySegment seg, int advice) {
        if (Libc.NATIVE == null) {
            return "not supported on " + System.getProperty("os.name") + "/" + System.getProperty("os.arch");
        }
        long start = (seg.address() + SIZE - 1) & -SIZE;
        long end = (seg.address() + seg.byteSize()) & -SIZE;
        if (end <= start) {
            return "smaller than one huge page";
        }
        int errno = Libc.NATIVE.madvise(start, end - start, advice);
        return switch (errno) {
            case 0 -> "ok";
            case EINVAL -> "not supported by this kernel or file system (EINVAL)";
            case ENOSYS -> "not supported by this kernel (ENOSYS)";
            default -> "failed (errno " + errno + ")";
        };
    }

    /**
     * Zeroed anonymous memory of {@code bytes}, 2 MiB-aligned, advised into huge pages before its first touch when
     * {@code huge} (with THP in {@code madvise} mode, the common default, other mappings stay in 4 KiB pages);
     * unmapped when {@code arena} closes. Empty when the native calls are missing or the kernel refuses the mapping.
     */
    static Optional<MemorySegment> allocate(long bytes, boolean huge, Arena arena) {
        if (Libc.NATIVE == null) {
            return Optional.empty();
        }
        long length = bytes + SIZE; // room to align the start to a huge page
        long base = Libc.NATIVE.mmap(length);
        if (base == -1L || base == 0L) {
            return Optional.empty();
        }
        long start = (base + SIZE - 1) & -SIZE;
        if (huge) {
            Libc.NATIVE.madvise(start, (length - (start - base)) & -SIZE, MADV_HUGEPAGE);
        }
        MemorySegment seg =
                MemorySegment.ofAddress(start).reinterpret(bytes, arena, ignored -> Libc.NATIVE.munmap(base, length));
        return Optional.of(seg);
    }

    /** Buddy-allocator order of a huge page: 2^9 base pages of 4 KiB. */
    private static final int HUGE_ORDER = 9;

    /**
     * Bytes the kernel could hand out as huge pages right now without compacting memory: the free blocks of 2 MiB
     * and larger in {@code /proc/buddyinfo}, all zones. A huge-page fault where there is no free block makes the
     * faulting thread compact memory first (THP {@code defrag} in its default {@code madvise} mode), which can
     * cost more than the 4 KiB faults it saves. -1 where unknown (not Linux, or no such file).
     */
    static long freeHugeBytes() {
        return freeHugeBytes(Path.of("/proc/buddyinfo"));
    }

    /** As {@link #freeHugeBytes()}, from the given file in buddyinfo's format. */
    static long freeHugeBytes(Path buddyinfo) {
        List<String> lines;
        try {
            lines = Files.readAllLines(buddyinfo);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return -1;
        }
        long bytes = 0;
        boolean any = false;
        for (String line : lines) {
            // "Node 0, zone   Normal   3476   3151 ...": free blocks of order 0, 1, 2 ... after the zone's name
            int zone = line.indexOf("zone");
            if (zone < 0) {
                continue;
            }
            String[] f = line.substring(zone + 4).trim().split("\\s+");
            for (int order = HUGE_ORDER; order + 1 < f.length; order++) {
                try {
                    bytes += Long.parseLong(f[order + 1]) << (order + 12);
                    any = true;
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return any ? bytes : -1;
    }

    /**
     * How the resident part of {@code seg} is backed in this process: bytes resident and bytes in huge pages
     * ({@code FilePmdMapped} plus {@code AnonHugePages} of the overlapping mappings in {@code /proc/self/smaps}).
     * Empty where there is no smaps. Pages the process has not touched yet count as not resident.
     */
    public static Optional<Backing> backing(MemorySegment seg) {
        return backing(List.of(seg));
    }

    /** As {@link #backing(MemorySegment)}, summed over segments. */
    public static Optional<Backing> backing(List<MemorySegment> segs) {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return Optional.empty();
        }
        long mapped = 0;
        for (MemorySegment s : segs) {
            mapped += s.byteSize();
        }
        long resident = 0;
        long huge = 0;
        boolean inside = false;
        for (String line : lines) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && isHex(line, 0, dash)) { // a mapping's header: start-end perms ...
                long lo = Long.parseUnsignedLong(line, 0, dash, 16);
                long hi = Long.parseUnsignedLong(line, dash + 1, space, 16);
                inside = false;
                for (MemorySegment s : segs) {
                    inside |= lo < s.address() + s.byteSize() && hi > s.address();
                }
            } else if (inside) {
                if (line.startsWith("Rss:")) {
                    resident += kib(line);
                } else if (line.startsWith("FilePmdMapped:") || line.startsWith("AnonHugePages:")) {
                    huge += kib(line);
                }
            }
        }
        return Optional.of(new Backing(mapped, resident, huge));
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    private static long kib(String line) {
        String[] f = line.trim().split("\\s+");
        return Long.parseLong(f[1]) * 1024;
    }

    /**
     * Pages behind some memory: {@code bytes} in all, {@code residentBytes} faulted in, {@code hugeBytes} of those
     * in huge pages.
     */
    public record Backing(long bytes, long residentBytes, long hugeBytes) {

        /** Share of the resident bytes in huge pages (0 when nothing is resident). */
        public double hugeShare() {
            return residentBytes == 0 ? 0 : (double) hugeBytes / residentBytes;
        }

        /** E.g. {@code "2 MiB pages for 72% of 2.99 GB resident"}, or that nothing is resident yet. */
        public String describe() {
            if (residentBytes == 0) {
                return String.format(Locale.ROOT, "none of %.2f GB resident yet", bytes / 1e9);
            }
            return String.format(
                    Locale.ROOT,
                    "2 MiB pages for %.0f%% of %.2f GB resident (the rest 4 KiB)",
                    100 * hugeShare(),
                    residentBytes / 1e9);
        }
    }

    /** libc's calls, or null off Linux or where the linker cannot find them. */
    private record Native(
            MethodHandle mmap, MethodHandle munmap, MethodHandle madvise, MethodHandle mincore, StructLayout state) {

        static Native load() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "");
            if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"))) {
                return null;
            }
            try {
                Linker linker = Linker.nativeLinker();
                Linker.Option errno = Linker.Option.captureCallState("errno");
                var lookup = linker.defaultLookup();
                MethodHandle mmap = linker.downcallHandle(
                        lookup.find("mmap").orElseThrow(),
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG));
                MethodHandle munmap = linker.downcallHandle(
                        lookup.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                MethodHandle madvise = linker.downcallHandle(
                        lookup.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT),
                        errno);
                MethodHandle mincore = linker.downcallHandle(
                        lookup.find("mincore").orElseThrow(),
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.ADDRESS));
                return new Native(mmap, munmap, madvise, mincore, Linker.Option.captureStateLayout());
            } catch (RuntimeException | LinkageError e) {
                return null; // no native access (e.g. --enable-native-access denied): plain allocations
            }
        }

        long mmap(long length) {
            try {
                return (long) mmap.invokeExact(0L, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            } catch (Throwable t) {
                return -1L;
            }
        }

        void munmap(long address, long length) {
            try {
                int ignored = (int) munmap.invokeExact(address, length);
            } catch (Throwable t) {
                // unmapping at close cannot fail for a range mmap returned; nothing to undo if it does
            }
        }

        /** 0 or -1. */
        int mincore(long address, long length, MemorySegment vec) {
            try {
                return (int) mincore.invokeExact(address, length, vec);
            } catch (Throwable t) {
                return -1;
            }
        }

        /** 0 or the errno. */
        int madvise(long address, long length, int advice) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(state);
                int r = (int) madvise.invokeExact(st, address, length, advice);
                return r == 0 ? 0 : (int) ERRNO.get(st, 0L);
            } catch (Throwable t) {
                return ENOSYS;
            }
        }

        private static final VarHandle ERRNO =
                Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));
    }
}
