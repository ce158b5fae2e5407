package io.falconmamba.benchmarks;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.SequenceState;
import io.falconmamba.loader.Checkpoint;
import io.falconmamba.loader.ModelConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The long-run scaling runner (not JMH): greedy decode of many tokens and a chunked prefill of a very long
 * prompt, sampling tokens/s and the process RSS every {@code --every} tokens, to show that neither speed nor
 * memory drifts with sequence length (a Mamba state is constant-size).
 *
 * <pre>
 * java -Xmx512m --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *     -cp benchmarks/target/benchmarks.jar io.falconmamba.benchmarks.LongRun \
 *     [--shape fm-130m] [--dtype bf16] [--models /tmp/fm] [--tokens 20000] [--prompt 100000]
 *     [--chunk 256] [--every 500] [--threads N] [--out benchmarks/results/longrun]
 * </pre>
 * Writes {@code decode.csv}, {@code prefill.csv} and the charts {@code decode-speed.png}, {@code decode-memory.png},
 * {@code prefill-speed.png}, {@code prefill-memory.png} into {@code --out}.
 */
public final class LongRun {

    private LongRun() {}

    /** One sample: tokens so far, seconds so far, tokens/s over the last window, RSS and heap in MB. */
    record Sample(long tokens, double seconds, double windowTokPerS, double rssMb, double heapMb) {}

    public static void main(String[] args) throws IOException {
        String shape = "fm-130m";
        String dtype = "bf16";
        Path models = Path.of(System.getProperty("fm.models", "/tmp/fm"));
        long tokens = 20_000;
        long prompt = 100_000;
        int chunk = 256;
        int every = 500;
        int threads = Runtime.getRuntime().availableProcessors();
        long seed = 42;
        Path out = Path.of("benchmarks/results/longrun");
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--shape" -> shape = v;
                case "--dtype" -> dtype = v;
                case "--models" -> models = Path.of(v);
                case "--tokens" -> tokens = Long.parseLong(v);
                case "--prompt" -> prompt = Long.parseLong(v);
                case "--chunk" -> chunk = Integer.parseInt(v);
                case "--every" -> every = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--out" -> out = Path.of(v);
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
            i++;
        }
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(out);
        Path dir = SyntheticCheckpoint.ensure(
                SyntheticCheckpoint.Shape.of(shape), dtype, models.resolve(shape + "-" + dtype), seed);
        String label = shape + " " + dtype + ", " + threads + " threads, -Xmx"
                + (Runtime.getRuntime().maxMemory() >> 20) + "m";
        System.out.println("LongRun: " + label);
        ModelConfig mc = ModelConfig.fromJson(dir);
        try (Checkpoint ck = Checkpoint.open(dir);
                FalconMambaModel model = FalconMambaModel.create(mc.toMambaConfig(), ck, threads)) {
            if (tokens > 0) {
                List<Sample> d = decode(model, tokens, every);
                write(out.resolve("decode.csv"), d);
                chart(out.resolve("decode"), "Greedy decode: " + label, d);
            }
            if (prompt > 0) {
                List<Sample> p = prefill(model, prompt, chunk, every, seed);
                write(out.resolve("prefill.csv"), p);
                chart(out.resolve("prefill"), "Chunked prefill (chunk " + chunk + "): " + label, p);
            }
        }
    }

    static List<Sample> decode(FalconMambaModel model, long tokens, int every) {
        SequenceState s = model.newState();
        float[] logits = model.prefill(s, new int[] {0}, PrefillMode.parallel());
        List<Sample> samples = new ArrayList<>();
        long start = System.nanoTime();
        long last = start;
        for (long t = 1; t <= tokens; t++) {
            logits = model.decode(s, argmax(logits));
            if (t % every == 0 || t == tokens) {
                long now = System.nanoTime();
                long window = t % every == 0 ? every : t % every;
                Sample x = sample(t, start, now, window / ((now - last) / 1e9));
                samples.add(x);
                print("decode", x);
                last = now;
            }
        }
        return samples;
    }

    static List<Sample> prefill(FalconMambaModel model, long prompt, int chunk, int every, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int vocab = model.config().vocabSize();
        SequenceState s = model.newState();
        int step = Math.max(chunk, every / chunk * chunk);
        int[] ids = new int[step];
        List<Sample> samples = new ArrayList<>();
        long start = System.nanoTime();
        long last = start;
        PrefillMode mode = PrefillMode.chunked(chunk);
        for (long done = 0; done < prompt; ) {
            int n = (int) Math.min(step, prompt - done);
            int[] part = n == step ? ids : new int[n];
            for (int i = 0; i < n; i++) {
                part[i] = rnd.nextInt(vocab);
            }
            model.prefill(s, part, mode);
            done += n;
            long now = System.nanoTime();
            Sample x = sample(done, start, now, n / ((now - last) / 1e9));
            samples.add(x);
            print("prefill", x);
            last = now;
        }
        return samples;
    }

    private static Sample sample(long tokens, long start, long now, double rate) {
        Runtime rt = Runtime.getRuntime();
        return new Sample(
                tokens, (now - start) / 1e9, rate, rssKb() / 1024.0, (rt.totalMemory() - rt.freeMemory()) / 1048576.0);
    }

    private static void print(String phase, Sample x) {
        System.out.printf(
                Locale.ROOT,
                "%s %,d tokens  %.1f s  %.2f tok/s  RSS %.1f MB  heap %.1f MB%n",
                phase,
                x.tokens(),
                x.seconds(),
                x.windowTokPerS(),
                x.rssMb(),
                x.heapMb());
    }

    /** Greedy choice. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** VmRSS of this process in kB from /proc/self/status, or -1 where there is no /proc. */
    static long rssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    static void write(Path csv, List<Sample> samples) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv))) {
            w.println("tokens,elapsed_s,window_tok_per_s,rss_mb,heap_used_mb");
            for (Sample s : samples) {
                w.printf(
                        Locale.ROOT,
                        "%d,%.3f,%.3f,%.1f,%.1f%n",
                        s.tokens(),
                        s.seconds(),
                        s.windowTokPerS(),
                        s.rssMb(),
                        s.heapMb());
            }
        }
        System.out.println("wrote " + csv);
    }

    static void chart(Path base, String title, List<Sample> samples) throws IOException {
        double[] x = samples.stream().mapToDouble(Sample::tokens).toArray();
        double[] rate = samples.stream().mapToDouble(Sample::windowTokPerS).toArray();
        double[] rss = samples.stream().mapToDouble(Sample::rssMb).toArray();
        double[] heap = samples.stream().mapToDouble(Sample::heapMb).toArray();
        XYChart speed = new XYChartBuilder()
                .width(900)
                .height(450)
                .title(title)
                .xAxisTitle("tokens")
                .yAxisTitle("tokens/s")
                .build();
        speed.getStyler().setLegendVisible(false);
        speed.addSeries("tokens/s", x, rate).setMarker(SeriesMarkers.NONE);
        speed.getStyler().setYAxisMin(0.0);
        BitmapEncoder.saveBitmap(speed, base + "-speed", BitmapEncoder.BitmapFormat.PNG);
        XYChart mem = new XYChartBuilder()
                .width(900)
                .height(450)
                .title(title)
                .xAxisTitle("tokens")
                .yAxisTitle("MB")
                .build();
        mem.addSeries("RSS", x, rss).setMarker(SeriesMarkers.NONE);
        mem.addSeries("heap used", x, heap).setMarker(SeriesMarkers.NONE);
        mem.getStyler().setYAxisMin(0.0);
        BitmapEncoder.saveBitmap(mem, base + "-memory", BitmapEncoder.BitmapFormat.PNG);
        System.out.println("wrote " + base + "-speed.png, " + base + "-memory.png");
    }
}
