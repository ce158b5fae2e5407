package io.falconmamba;

import io.falconmamba.core.generation.StopCondition;
import io.falconmamba.core.generation.TokenListener;
import io.falconmamba.tokenizer.StreamingDecoder;
import io.falconmamba.tokenizer.Tokenizer;
import java.util.List;

/**
 * Turns one generation's token ids into text as they come: feeds the caller's {@link TextListener} and checks
 * the stop strings on the text generated so far (special tokens included) (the hook {@link StopCondition} leaves to a tokenizer layer).
 * One per generation; public for drivers that run the token loop themselves (the HTTP server's batch scheduler).
 */
public final class TextStream implements TokenListener, StopCondition {

    private final StreamingDecoder decoder;
    /** With special tokens kept, for the stop strings (null without stop strings). */
    private final StreamingDecoder rawDecoder;

    private final StringBuilder rawText = new StringBuilder();
    private final TextListener listener;
    private final List<String> stopStrings;
    private final int longestStop;
    private final StringBuilder text = new StringBuilder();
    private boolean stopped;
    /** Text length at the previous check: a new match must end after it. */
    private int checked;

    public TextStream(Tokenizer tokenizer, TextListener listener, List<String> stopStrings) {
        this.decoder = tokenizer.streamingDecoder(true);
        // Stop strings are matched on the text with special tokens kept, as transformers matches them on token
        // strings: a stop string such as "<|im_end|>" must fire although the returned text skips that token.
        this.rawDecoder = stopStrings.isEmpty() ? null : tokenizer.streamingDecoder(false);
        this.listener = listener;
        this.stopStrings = List.copyOf(stopStrings);
        this.longestStop = stopStrings.stream().mapToInt(String::length).max().orElse(0);
    }

    @Override
    public void onToken(int tokenId) {
        emit(decoder.push(tokenId));
        if (rawDecoder != null) {
            rawText.append(rawDecoder.push(tokenId));
        }
    }

    /** True once the generated text contains a stop string; only the tail that could hold a new match is searched. */
    @Override
    public boolean shouldStop(int tokenId) {
        if (stopStrings.isEmpty() || stopped) {
            return stopped;
        }
        int from = Math.max(0, checked - longestStop + 1);
        checked = rawText.length();
        for (String s : stopStrings) {
            if (rawText.indexOf(s, from) >= 0) {
                stopped = true;
            }
        }
        return stopped;
    }

    /** Emits what the decoder still holds back; call once generation has ended. */
    public void finish() {
        emit(decoder.flush());
    }

    /** The text emitted so far (special tokens skipped). */
    public String text() {
        return text.toString();
    }

    private void emit(String piece) {
        if (piece != null && !piece.isEmpty()) {
            text.append(piece);
            if (listener != null) {
                listener.onText(piece);
            }
        }
    }
}
