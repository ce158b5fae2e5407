package io.falconmamba.cli;

import io.falconmamba.hub.DownloadListener;
import java.util.HashMap;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Progress on stderr: bars when it is a terminal, occasional plain lines otherwise, nothing when quiet. */
final class Progress implements DownloadListener, AutoCloseable {

    private static volatile boolean quiet;
    private final boolean terminal = System.console() != null;
    private final Map<String, ProgressBar> bars = new HashMap<>();
    private final Map<String, Long> lastReported = new HashMap<>();

    Progress() {}

    static Progress forDownloads() {
        return new Progress();
    }

    static void quiet(boolean q) {
        quiet = q;
    }

    /** A status line on stderr (suppressed in --json mode). */
    static void note(String line) {
        if (!quiet) {
            System.err.println(line);
        }
    }

    @Override
    public synchronized void onProgress(String file, long done, long total) {
        if (quiet) {
            return;
        }
        if (terminal) {
            ProgressBar bar = bars.computeIfAbsent(
                    file,
                    f -> new ProgressBarBuilder()
                            .setTaskName(f)
                            .setInitialMax(Math.max(total, 0))
                            .setStyle(ProgressBarStyle.ASCII)
                            .setUnit(" MB", 1 << 20)
                            .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                            .build());
            if (total > 0) {
                bar.maxHint(total);
            }
            bar.stepTo(done);
        } else {
            long last = lastReported.getOrDefault(file, -1L);
            boolean finished = total > 0 && done >= total;
            if (last < 0 || finished || done - last >= 256L << 20) {
                System.err.printf("download %s: %d / %s bytes%n", file, done, total >= 0 ? Long.toString(total) : "?");
                lastReported.put(file, done);
            }
        }
    }

    /** Prefill progress of a long prompt, for chunked prefill. */
    ProgressBar prefillBar(int tokens) {
        if (!terminal || quiet || tokens < 2048) {
            return null;
        }
        return new ProgressBarBuilder()
                .setTaskName("prefill")
                .setInitialMax(tokens)
                .setStyle(ProgressBarStyle.ASCII)
                .setUnit(" tok", 1)
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public synchronized void close() {
        bars.values().forEach(ProgressBar::close);
        bars.clear();
    }
}
