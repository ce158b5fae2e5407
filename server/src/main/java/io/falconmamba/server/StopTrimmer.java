package io.falconmamba.server;

import java.util.List;

/**
 * Cuts a reply at its first stop string, as OpenAI's API returns it (the stop string itself left out), while it
 * streams: text that could still turn out to start a stop string is held back until it cannot.
 */
final class StopTrimmer {

    private final List<String> stops;
    /** Characters held back: one less than the longest stop string. */
    private final int holdBack;

    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private boolean stopped;

    StopTrimmer(List<String> stops) {
        this.stops = List.copyOf(stops);
        this.holdBack =
                Math.max(0, stops.stream().mapToInt(String::length).max().orElse(0) - 1);
    }

    /** Takes the next piece of the reply; returns the text now known to precede every stop string (maybe empty). */
    String push(String piece) {
        if (stopped) {
            return "";
        }
        text.append(piece);
        int from = Math.max(0, emitted - holdBack);
        int cut = -1;
        for (String s : stops) {
            int i = text.indexOf(s, from);
            if (i >= 0 && (cut < 0 || i < cut)) {
                cut = i;
            }
        }
        if (cut >= 0) {
            stopped = true;
            return take(Math.max(emitted, cut));
        }
        return take(Math.max(emitted, text.length() - holdBack));
    }

    /** The rest once the reply has ended. */
    String finish() {
        return stopped ? "" : take(text.length());
    }

    /** The reply up to the first stop string, as emitted so far. */
    String emittedText() {
        return text.substring(0, emitted);
    }

    private String take(int end) {
        String out = text.substring(emitted, end);
        emitted = end;
        return out;
    }
}
