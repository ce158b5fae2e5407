package io.falconmamba.loader;

import io.falconmamba.core.HugePages;
import io.falconmamba.core.WeightSource;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * A model's weights as files on disk, whatever the format (a safetensors {@link Checkpoint}, a GGUF file): the
 * engine's {@link WeightSource} by Hugging Face tensor name, plus what listings need. Closing unmaps the files.
 */
public interface WeightFiles extends WeightSource, AutoCloseable {

    /** The directory or file the weights were opened from. */
    Path location();

    /** Every tensor name the engine can ask for, sorted. */
    Set<String> names();

    /** The type a tensor is stored in, as its format names it (safetensors dtype or ggml type). */
    String storedType(String name);

    /** How the resident parts of the mapped files are backed (see {@link HugePages#backing}); empty where unknown. */
    Optional<HugePages.Backing> pageBacking();

    /** What the kernel answered to the huge-page requests on the mapped files. */
    String hugePages();

    @Override
    void close();
}
