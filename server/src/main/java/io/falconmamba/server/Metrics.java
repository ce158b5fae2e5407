package io.falconmamba.server;

import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.core.generation.StateSpill;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** The server's counters and gauges, written in Prometheus' text format by {@link #render}. */
final class Metrics {

    /** Requests answered, by endpoint and status. */
    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();

    final LongAdder promptTokens = new LongAdder();
    final LongAdder completionTokens = new LongAdder();
    final LongAdder rejected = new LongAdder();
    final LongAdder cancelled = new LongAdder();

    // Written by the scheduler thread only.
    final AtomicLong prefillTokens = new AtomicLong();
    final AtomicLong prefillNanos = new AtomicLong();
    final AtomicLong decodeTokens = new AtomicLong();
    final AtomicLong decodeNanos = new AtomicLong();
    final AtomicLong decodeSteps = new AtomicLong();
    final AtomicLong cacheTokensSaved = new AtomicLong();
    final AtomicLong queueDepth = new AtomicLong();
    final AtomicLong batchSize = new AtomicLong();
    final AtomicLong prefilling = new AtomicLong();

    void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder())
                .increment();
    }

    String render(SessionCache.Stats cache, StateSpill.Stats spill) {
        StringBuilder out = new StringBuilder(2048);
        out.append("# HELP falconmamba_requests_total HTTP requests answered, by endpoint and status.\n");
        out.append("# TYPE falconmamba_requests_total counter\n");
        for (Map.Entry<String, LongAdder> e : new TreeMap<>(requests).entrySet()) {
            String[] k = e.getKey().split("\u0000");
            out.append("falconmamba_requests_total{endpoint=\"")
                    .append(k[0])
                    .append("\",status=\"")
                    .append(k[1])
                    .append("\"} ")
                    .append(e.getValue().sum())
                    .append('\n');
        }
        counter(out, "falconmamba_rejected_total", "Requests refused with 429 (queue full).", rejected.sum());
        counter(out, "falconmamba_cancelled_total", "Generations cancelled (disconnect or timeout).", cancelled.sum());
        counter(out, "falconmamba_prompt_tokens_total", "Prompt tokens of finished requests.", promptTokens.sum());
        counter(
                out,
                "falconmamba_completion_tokens_total",
                "Generated tokens of finished requests.",
                completionTokens.sum());
        counter(
                out,
                "falconmamba_prefill_tokens_total",
                "Prompt tokens fed through the model (cached prefixes excluded).",
                prefillTokens.get());
        counter(out, "falconmamba_prefill_seconds_total", "Time spent prefilling.", prefillNanos.get() / 1e9);
        counter(out, "falconmamba_decode_tokens_total", "Tokens decoded by batch steps.", decodeTokens.get());
        counter(out, "falconmamba_decode_seconds_total", "Time spent in batch decode steps.", decodeNanos.get() / 1e9);
        counter(out, "falconmamba_decode_steps_total", "Batch decode steps.", decodeSteps.get());
        gauge(
                out,
                "falconmamba_prefill_tokens_per_second",
                "Prefill throughput while prefilling (tokens over prefill time).",
                rate(prefillTokens.get(), prefillNanos.get()));
        gauge(
                out,
                "falconmamba_decode_tokens_per_second",
                "Decode throughput while decoding, all sequences of a step together.",
                rate(decodeTokens.get(), decodeNanos.get()));
        gauge(out, "falconmamba_queue_depth", "Requests waiting for a slot.", queueDepth.get());
        gauge(out, "falconmamba_batch_size", "Sequences in the decode batch.", batchSize.get());
        gauge(out, "falconmamba_prefilling", "Admitted requests still prefilling their prompt.", prefilling.get());
        counter(out, "falconmamba_state_cache_hits_total", "Requests that continued a cached state.", cache.hits());
        counter(out, "falconmamba_state_cache_misses_total", "Requests with no cached prefix.", cache.misses());
        counter(
                out,
                "falconmamba_state_cache_tokens_saved_total",
                "Prompt tokens not prefilled thanks to the state cache.",
                cacheTokensSaved.get());
        counter(
                out,
                "falconmamba_state_cache_evictions_total",
                "States dropped to stay within the budget.",
                cache.evictions());
        gauge(out, "falconmamba_state_cache_entries", "States held.", cache.entries());
        gauge(out, "falconmamba_state_cache_bytes", "Bytes held by the state cache.", cache.bytes());
        gauge(out, "falconmamba_state_cache_max_bytes", "The state cache's budget.", cache.maxBytes());
        counter(
                out,
                "falconmamba_state_spill_written_total",
                "States evicted from memory and written to the spill directory.",
                spill.spilled());
        counter(
                out,
                "falconmamba_state_spill_loaded_total",
                "Spilled states loaded back for a request (counted as state cache hits too).",
                spill.loaded());
        counter(
                out,
                "falconmamba_state_spill_rejected_total",
                "Spilled files that failed a check (corrupt, truncated, another model) and were treated as misses.",
                spill.rejected());
        counter(
                out,
                "falconmamba_state_spill_evictions_total",
                "Spilled files deleted to stay within the disk budget.",
                spill.evictions());
        gauge(out, "falconmamba_state_spill_files", "States held on disk.", spill.files());
        gauge(out, "falconmamba_state_spill_bytes", "Bytes of the spill directory's state files.", spill.bytes());
        gauge(
                out,
                "falconmamba_state_spill_max_bytes",
                "The spill directory's budget (0: no spill).",
                spill.maxBytes());
        return out.toString();
    }

    private static double rate(long tokens, long nanos) {
        return nanos == 0 ? 0 : tokens * 1e9 / nanos;
    }

    private static void counter(StringBuilder out, String name, String help, double value) {
        line(out, name, help, "counter", value);
    }

    private static void gauge(StringBuilder out, String name, String help, double value) {
        line(out, name, help, "gauge", value);
    }

    private static void line(StringBuilder out, String name, String help, String type, double value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        out.append(name).append(' ');
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            out.append((long) value);
        } else {
            out.append(String.format(Locale.ROOT, "%.6g", value));
        }
        out.append('\n');
    }
}
