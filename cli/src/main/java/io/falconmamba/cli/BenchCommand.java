package io.falconmamba.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.falconmamba.Engine;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.MambaConfig;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import io.falconmamba.core.kernels.ReadBandwidth;
import io.falconmamba.core.kernels.ThreadPool;
import io.falconmamba.loader.WeightFiles;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench}: prefill and decode throughput, the counterpart of llama-bench. Random prompt ids (seeded),
 * {@code --warmup} unmeasured runs, then {@code --repetitions} measured runs; prints the median and the spread.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s (median and spread over repetitions, after warm-up runs).")
final class BenchCommand implements Callable<Integer> {

    /** The bandwidth probe's buffer: far beyond any last-level cache, as JMH's BandwidthBench. */
    static final long BANDWIDTH_BYTES = 256L << 20;

    static final int BANDWIDTH_PASSES = 20;

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Option(names = "--prompt-tokens", paramLabel = "N", description = "Prompt length (default: ${DEFAULT-VALUE}).")
    int promptTokens = 512;

    @Option(
            names = "--gen-tokens",
            paramLabel = "N",
            description = "Tokens decoded per run (default: ${DEFAULT-VALUE}).")
    int genTokens = 128;

    @Option(
            names = "--batch",
            paramLabel = "N",
            description = "Sequences decoded together (default: ${DEFAULT-VALUE}).")
    int batch = 1;

    @Option(
            names = "--prefill",
            paramLabel = "MODE",
            description = "parallel, chunked or chunked:C (default: ${DEFAULT-VALUE}).")
    String prefill = "chunked:" + PrefillMode.DEFAULT_CHUNK;

    @Option(names = "--repetitions", paramLabel = "R", description = "Measured runs (default: ${DEFAULT-VALUE}).")
    int repetitions = 3;

    /**
     * Two, because the JIT is not done after one: the first decode after a prefill can still trip C2's compiled
     * kernels back to the interpreter and wait for their recompilation (on two busy cores that takes up to a
     * second), and a single warm-up run left a measured 64-token decode at a quarter of its speed in about one run
     * in four.
     */
    @Option(
            names = "--warmup",
            paramLabel = "W",
            description = "Unmeasured runs before the measured ones, for the JIT (default: ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(
            names = "--bandwidth",
            description = "Also measure the read bandwidth (a 256 MiB sum on as many threads, before and "
                    + "after the runs) and give decode's weight traffic as a share of the best reading.")
    boolean bandwidth;

    @Option(
            names = "--json",
            description = "Print one JSON object with the figures, the model shape, type, threads and vector width.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (promptTokens < 1 || genTokens < 1 || batch < 1 || repetitions < 1) {
            throw new UsageException("--prompt-tokens, --gen-tokens, --batch and --repetitions must be at least 1");
        }
        if (warmup < 0) {
            throw new UsageException("--warmup must be at least 0, got " + warmup);
        }
        modelOptions.validate();
        PrefillMode mode = UsageException.check("--prefill", () -> PrefillMode.parse(prefill));
        Progress.quiet(json);
        try (Engine fm = modelOptions.loadEngine()) {
            FalconMambaModel model = fm.model();
            MambaConfig c = model.config();
            int[][] prompts = new int[batch][];
            SplittableRandom rnd = new SplittableRandom(1234);
            for (int b = 0; b < batch; b++) {
                prompts[b] = rnd.ints(promptTokens, 0, c.vocabSize()).toArray();
            }
            // The host's bandwidth drifts, so it is read just before the runs and just after; the best counts.
            double readBefore = bandwidth ? readBandwidth(model.threads()) : Double.NaN;
            double[] prefillRates = new double[repetitions];
            double[] decodeRates = new double[repetitions];
            for (int r = -warmup; r < repetitions; r++) { // r < 0: warm-up runs
                SequenceState[] states = new SequenceState[batch];
                long t0 = System.nanoTime();
                for (int b = 0; b < batch; b++) {
                    states[b] = model.newState();
                    model.prefill(states[b], prompts[b], mode);
                }
                long t1 = System.nanoTime();
                int[] next = new int[batch];
                for (int step = 0; step < genTokens; step++) {
                    for (int b = 0; b < batch; b++) {
                        next[b] = argmax(states[b].logits());
                    }
                    model.decodeBatch(states, next, batch);
                }
                long t2 = System.nanoTime();
                if (r >= 0) {
                    prefillRates[r] = (double) batch * promptTokens / ((t1 - t0) / 1e9);
                    decodeRates[r] = (double) batch * genTokens / ((t2 - t1) / 1e9);
                }
                Progress.note(
                        r < 0
                                ? "warm-up run " + (warmup + r + 1) + " of " + warmup + " done"
                                : String.format(
                                        Locale.ROOT,
                                        "run %d: prefill %.1f tok/s, decode %.2f tok/s",
                                        r + 1,
                                        prefillRates[r],
                                        decodeRates[r]));
            }
            String dtype = dtypeOf(fm);
            // Decode reads every weight once per step, whatever the batch: weight traffic is steps/s × bytes.
            double weightGBs = model.weightBytesPerToken() * median(decodeRates) / batch / 1e9;
            double readGBs = bandwidth ? Math.max(readBefore, readBandwidth(model.threads())) : Double.NaN;
            if (json) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode o = m.createObjectNode();
                o.put("model", fm.directory().toString());
                ObjectNode shape = o.putObject("shape");
                shape.put("model_type", c.architecture().modelType());
                shape.put("hidden_size", c.hiddenSize());
                shape.put("num_hidden_layers", c.numLayers());
                shape.put("intermediate_size", c.intermediateSize());
                shape.put("state_size", c.stateSize());
                shape.put("vocab_size", c.vocabSize());
                o.put("dtype", dtype);
                o.put("quantization", model.quantization().label());
                o.put("weight_storage", model.weightStorage().name().toLowerCase(Locale.ROOT));
                o.put("threads", model.threads());
                o.put("vector_bits", FalconMambaModel.vectorBits());
                o.put("prefill_mode", mode.toString());
                o.put("prompt_tokens", promptTokens);
                o.put("gen_tokens", genTokens);
                o.put("batch", batch);
                o.put("repetitions", repetitions);
                o.put("warmup_runs", warmup);
                o.put("weight_bytes_per_token", model.weightBytesPerToken());
                ObjectNode pages = o.putObject("weight_pages");
                WeightPages.of(model, fm.weights()).ifPresent(b -> {
                    pages.put("resident_bytes", b.residentBytes());
                    pages.put("huge_page_bytes", b.hugeBytes());
                    pages.put("huge_page_share", b.hugeShare());
                });
                pages.put("storage", model.weightPages().isPresent() ? "memory" : "mapped");
                pages.put("advice", WeightPages.advice(fm.weights()));
                putStats(o.putObject("prefill_tokens_per_s"), prefillRates);
                putStats(o.putObject("decode_tokens_per_s"), decodeRates);
                o.put("decode_weight_gb_per_s", weightGBs);
                if (bandwidth) {
                    o.put("read_bandwidth_gb_per_s", readGBs);
                    o.put("decode_bandwidth_share", weightGBs / readGBs);
                }
                System.out.println(m.writeValueAsString(o));
            } else {
                System.out.printf(
                        Locale.ROOT,
                        "model %s: %s, d=%d, L=%d, %s%s, %d threads, %d-bit vectors%n",
                        fm.directory(),
                        c.architecture().modelType(),
                        c.hiddenSize(),
                        c.numLayers(),
                        dtype,
                        model.weightStorage() == io.falconmamba.core.WeightStorage.IN_MEMORY ? " in memory" : "",
                        model.threads(),
                        FalconMambaModel.vectorBits());
                System.out.printf(Locale.ROOT, "weight pages: %s%n", WeightPages.describe(model, fm.weights()));
                System.out.printf(
                        Locale.ROOT,
                        "prefill  pp%-6d %-12s %10.2f tok/s  (min %.2f, max %.2f)%n",
                        promptTokens,
                        mode,
                        median(prefillRates),
                        min(prefillRates),
                        max(prefillRates));
                System.out.printf(
                        Locale.ROOT,
                        "decode   tg%-6d batch %-6d %10.2f tok/s  (min %.2f, max %.2f); weights %.1f GB/s%n",
                        genTokens,
                        batch,
                        median(decodeRates),
                        min(decodeRates),
                        max(decodeRates),
                        weightGBs);
                if (bandwidth) {
                    System.out.printf(
                            Locale.ROOT,
                            "read bandwidth %.1f GB/s (%d threads, the better of a reading before and one after the runs); "
                                    + "decode's weights at %.0f %% of it%n",
                            readGBs,
                            model.threads(),
                            100 * weightGBs / readGBs);
                }
            }
        }
        return 0;
    }

    private static double readBandwidth(int threads) {
        Progress.note("measuring read bandwidth");
        try (ThreadPool pool = new ThreadPool(threads)) {
            return ReadBandwidth.measure(BANDWIDTH_BYTES, BANDWIDTH_PASSES, pool);
        }
    }

    private static String dtypeOf(Engine fm) {
        TreeSet<String> types = new TreeSet<>();
        WeightFiles weights = fm.weights();
        for (String n : weights.names()) {
            types.add(weights.storedType(n));
        }
        String stored = String.join("+", types);
        io.falconmamba.core.Quantization q = fm.model().quantization();
        return q == io.falconmamba.core.Quantization.NONE ? stored : q.label() + " (from " + stored + ")";
    }

    private static void putStats(ObjectNode o, double[] v) {
        o.put("median", median(v));
        o.put("min", min(v));
        o.put("max", max(v));
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(0);
    }

    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(0);
    }
}
