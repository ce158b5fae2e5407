package io.falconmamba.loader;

/**
 * A {@code config.json} is missing, unreadable, or describes a model the engine cannot run. The message names the
 * file and, where it applies, the field.
 */
public class ModelConfigException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
