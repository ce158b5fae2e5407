package io.falconmamba.loader.gguf;

/**
 * A GGUF file is not what the loader can read. Every message names the file and, where it applies, the metadata
 * key or the tensor.
 *
 * <p>It extends {@link IllegalArgumentException} so that {@link GgufWeights#tensor(String)} keeps the contract of
 * {@link io.falconmamba.core.WeightSource#tensor(String)}.
 */
public class GgufException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public GgufException(String message) {
        super(message);
    }

    public GgufException(String message, Throwable cause) {
        super(message, cause);
    }
}
