package io.falconmamba.loader;

/**
 * A safetensors file, a checkpoint directory or a checkpoint's contents are not what the loader can read.
 * Every message names the file (or directory) and, where it applies, the tensor.
 *
 * <p>It extends {@link IllegalArgumentException} so that {@link Checkpoint#tensor(String)} keeps the contract of
 * {@link io.falconmamba.core.WeightSource#tensor(String)} (which throws {@code IllegalArgumentException}) while
 * callers that care can catch the loader's own type.
 */
public class SafetensorsException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
