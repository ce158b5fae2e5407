package io.falconmamba.cli;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.HugePages;
import io.falconmamba.loader.WeightFiles;
import java.util.Optional;

/** The page size backing the weights the kernels read, for {@code info} and {@code bench}. */
final class WeightPages {

    private WeightPages() {}

    /**
     * The pages behind the weights: the model's own copies when it made them at load, else the mapped files of
     * {@code checkpoint} (resident parts only).
     */
    static Optional<HugePages.Backing> of(FalconMambaModel model, WeightFiles files) {
        Optional<HugePages.Backing> own = model.weightPages();
        if (own.isPresent()) {
            return own;
        }
        return files.pageBacking();
    }

    /** One line: page sizes, and what the kernel answered to the huge-page requests on the mapped files. */
    static String describe(FalconMambaModel model, WeightFiles files) {
        String pages = of(model, files).map(HugePages.Backing::describe).orElse("unknown");
        String where = model.weightPages().isPresent() ? "in memory" : "mapped";
        return pages + ", " + where + "; files: " + files.hugePages();
    }

    /** What the kernel answered to the huge-page requests on the mapped files, where the loader made them. */
    static String advice(WeightFiles files) {
        return files.hugePages();
    }
}
