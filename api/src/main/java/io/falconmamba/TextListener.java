package io.falconmamba;

/**
 * Receives generated text as soon as it is final: whole characters only (a character split across tokens
 * arrives once all its tokens have), and the pieces concatenate to {@link Completion#text()}.
 */
@FunctionalInterface
public interface TextListener {

    void onText(String piece);
}
