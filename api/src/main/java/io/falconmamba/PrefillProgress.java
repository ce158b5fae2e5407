package io.falconmamba;

/** Progress of a long prompt's prefill: tokens fed so far out of the total. */
@FunctionalInterface
public interface PrefillProgress {

    void onProgress(int fed, int total);
}
