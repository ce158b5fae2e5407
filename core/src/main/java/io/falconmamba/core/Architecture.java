package io.falconmamba.core;

/** The model families the engine runs; they differ only in step 5 of the mixer (B, C, dt norms). */
public enum Architecture {
    /** {@code model_type: falcon_mamba}: weightless RMS norm on dt, B and C. */
    FALCON_MAMBA("falcon_mamba"),
    /** {@code model_type: mamba}: Mamba-1 as in {@code state-spaces/mamba-*-hf}. */
    MAMBA("mamba");

    private final String modelType;

    Architecture(String modelType) {
        this.modelType = modelType;
    }

    /** The {@code model_type} string of config.json. */
    public String modelType() {
        return modelType;
    }
}
