package io.falconmamba;

import io.falconmamba.core.Quantization;
import io.falconmamba.core.WeightStorage;
import io.falconmamba.hub.DownloadListener;
import io.falconmamba.hub.ResolveOptions;
import java.util.Objects;

/**
 * How {@link FalconMamba#load(String, LoadOptions)} finds and prepares a model.
 *
 * @param threads  kernel threads (including the caller's); default: one per available processor
 * @param resolve  where to look for a repo id and whether downloading from the Hub is allowed (default: no download)
 * @param quantization block format the projection matrices are quantized to at load, off-heap (default:
 *                     {@link Quantization#NONE}, the weights as stored)
 * @param storage  whether the projection matrices are read in place from the mapped files
 *                 ({@link WeightStorage#MAPPED}, like llama.cpp's default) or copied into memory at load
 *                 ({@link WeightStorage#IN_MEMORY}: slower load, faster decode, like llama.cpp's {@code --no-mmap});
 *                 default {@link WeightStorage#AUTO}: copied when the checkpoint takes 64 MiB or more and at most
 *                 half the available memory
 */
public record LoadOptions(int threads, ResolveOptions resolve, Quantization quantization, WeightStorage storage) {

    public LoadOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        Objects.requireNonNull(resolve, "resolve");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(storage, "storage");
    }

    public LoadOptions(int threads, ResolveOptions resolve, Quantization quantization) {
        this(threads, resolve, quantization, WeightStorage.AUTO);
    }

    public LoadOptions(int threads, ResolveOptions resolve) {
        this(threads, resolve, Quantization.NONE);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(Runtime.getRuntime().availableProcessors(), ResolveOptions.defaults());
    }

    public LoadOptions withThreads(int threads) {
        return new LoadOptions(threads, resolve, quantization, storage);
    }

    /**
     * Quantizes in_proj, x_proj, dt_proj, out_proj and the output head to llama.cpp's Q8_0 or Q4_0 blocks at load
     * (matrices whose rows are not a multiple of 32 stay as stored; the embedding lookup stays exact).
     */
    public LoadOptions withQuantization(Quantization quantization) {
        return new LoadOptions(threads, resolve, quantization, storage);
    }

    /** Reads the projection matrices in place from the mapped files, or copies them into memory at load. */
    public LoadOptions withStorage(WeightStorage storage) {
        return new LoadOptions(threads, resolve, quantization, storage);
    }

    /** Allows (or forbids) downloading a repo id that is not in the local Hugging Face cache. */
    public LoadOptions withDownload(boolean allow, DownloadListener progress) {
        ResolveOptions.Builder b = resolve.toBuilder().allowDownload(allow);
        if (progress != null) {
            b.listener(progress);
        }
        return new LoadOptions(threads, b.build(), quantization, storage);
    }

    public LoadOptions withResolve(ResolveOptions resolve) {
        return new LoadOptions(threads, resolve, quantization, storage);
    }
}
