package io.falconmamba.cli;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.HugePages;
import io.falconmamba.loader.Checkpoint;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/** The page size backing the weights the kernels read, for {@code info} and {@code bench}. */
final class WeightPages {

    private WeightPages() {}

    /**
     * The pages behind the weights: the model's own copies when it made them at load, else the mapped files of
     * {@code checkpoint} (resident parts only).
     */
    static Optional<HugePages.Backing> of(FalconMambaModel model, Checkpoint checkpoint) {
        Optional<HugePages.Backing> own = model.weightPages();
        return own.isPresent() ? own : checkpoint.pageBacking();
    }

    /** One line: page sizes, and what the kernel answered to the huge-page requests on the mapped files. */
    static String describe(FalconMambaModel model, Checkpoint checkpoint) {
        String pages = of(model, checkpoint).map(HugePages.Backing::describe).orElse("unknown (no /proc/self/smaps)");
        String where = model.weightPages().isPresent() ? "in memory" : "mapped";
        return pages + ", " + where + "; files: " + checkpoint.hugePages();
    }

    /** Reads one byte of every 4 KiB page of every tensor, so the mapping's pages are resident to be counted. */
    static void faultIn(Checkpoint checkpoint) {
        long sum = 0;
        for (String name : checkpoint.names()) {
            MemorySegment s = checkpoint.slice(name);
            for (long o = 0; o < s.byteSize(); o += 4096) {
                sum += s.get(ValueLayout.JAVA_BYTE, o);
            }
        }
        if (sum == Long.MIN_VALUE) { // keeps the reads from being dropped as dead code
            System.err.print("");
        }
    }
}
