package io.falconmamba.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns JMH JSON results ({@code -rf json}) into a Markdown table with the derived figures: GB/s for the
 * matrix × vector and bandwidth benchmarks, GFLOP/s for matrix × matrix, tokens/s and the share of the
 * measured read bandwidth for decode.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.falconmamba.benchmarks.JmhReport OUT.md IN.json [IN.json ...]</pre>
 */
public final class JmhReport {

    /**
     * Fallback ceiling when no BandwidthBench result is among the inputs: a typical two-thread reading of a
     * 2-core cloud VM. Only a BandwidthBench run in the same inputs makes the percentages meaningful.
     */
    static final double DEFAULT_BANDWIDTH_GBS = 29.0;

    private JmhReport() {}

    record Row(String bench, Map<String, String> params, double score, double error, String unit) {
        String p(String k) {
            return params.get(k);
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: JmhReport OUT.md IN.json [IN.json ...]");
            System.exit(2);
        }
        ObjectMapper json = new ObjectMapper();
        List<Row> rows = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            for (JsonNode n : json.readTree(Path.of(args[i]).toFile())) {
                String b = n.get("benchmark").asText();
                b = b.substring(b.lastIndexOf('.', b.lastIndexOf('.') - 1) + 1);
                Map<String, String> params = new TreeMap<>();
                JsonNode ps = n.get("params");
                if (ps != null) {
                    for (Map.Entry<String, JsonNode> e : ps.properties()) {
                        params.put(e.getKey(), e.getValue().asText());
                    }
                }
                JsonNode pm = n.get("primaryMetric");
                double err = pm.get("scoreError").asDouble();
                rows.add(new Row(
                        b,
                        params,
                        pm.get("score").asDouble(),
                        Double.isNaN(err) ? 0 : err,
                        pm.get("scoreUnit").asText()));
            }
        }
        // The best two-thread off-heap reading among the inputs (any stream count): the ceiling is what the
        // memory can deliver, so a low reading in a noisy run does not inflate the percentages.
        double bandwidth = DEFAULT_BANDWIDTH_GBS;
        String bwSource = "fallback: no BandwidthBench result in the input";
        double best = 0;
        for (Row r : rows) {
            if (r.bench().startsWith("BandwidthBench")
                    && "2".equals(r.p("threads"))
                    && "offheap".equals(r.p("source"))) {
                double gbs = r.score() * BandwidthBench.SIZE / 1e9;
                if (gbs > best) {
                    best = gbs;
                    bandwidth = gbs;
                    bwSource = "best BandwidthBench offheap reading with 2 threads"
                            + (r.p("streams") == null ? "" : ", " + r.p("streams") + " stream(s) per thread");
                }
            }
        }
        StringBuilder md = new StringBuilder();
        md.append(String.format(
                Locale.ROOT, "Read-bandwidth ceiling used for %% columns: %.1f GB/s (%s).%n%n", bandwidth, bwSource));
        md.append("| benchmark | parameters | score | ± | unit | derived |\n|---|---|---:|---:|---|---|\n");
        for (Row r : rows) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %.3f | %.3f | %s | %s |%n",
                    r.bench(),
                    params(r.params()),
                    r.score(),
                    r.error(),
                    r.unit(),
                    derived(r, bandwidth)));
        }
        Files.writeString(Path.of(args[0]), md.toString());
        System.out.print(md);
    }

    private static String params(Map<String, String> p) {
        StringBuilder s = new StringBuilder();
        p.forEach((k, v) ->
                s.append(s.isEmpty() ? "" : ", ").append(k).append('=').append(v));
        return s.toString();
    }

    static String derived(Row r, double bandwidth) {
        double s = r.score();
        String b = r.bench();
        if (b.startsWith("MatVecBench")) {
            double gbs =
                    s * Double.parseDouble(r.p("rows")) * Double.parseDouble(r.p("cols")) * bytes(r.p("dtype")) / 1e9;
            return String.format(Locale.ROOT, "%.1f GB/s (%.0f %% of %.1f)", gbs, 100 * gbs / bandwidth, bandwidth);
        }
        if (b.startsWith("MatMulBench")) {
            double gf = s
                    * 2
                    * Double.parseDouble(r.p("rows"))
                    * Double.parseDouble(r.p("cols"))
                    * Double.parseDouble(r.p("tokens"))
                    / 1e9;
            return String.format(Locale.ROOT, "%.1f GFLOP/s", gf);
        }
        if (b.startsWith("BandwidthBench")) {
            return String.format(Locale.ROOT, "%.1f GB/s", s * BandwidthBench.SIZE / 1e9);
        }
        if (b.startsWith("DecodeBench")) {
            double gbs = s
                    * weightBytesPerToken(r.p("shape"), r.p("dtype"), r.params().getOrDefault("quant", "none"))
                    / 1e9;
            return String.format(
                    Locale.ROOT,
                    "%.1f tok/s, %.1f GB/s weights (%.0f %% of %.1f)",
                    s,
                    gbs,
                    100 * gbs / bandwidth,
                    bandwidth);
        }
        if (b.startsWith("BatchDecodeBench")) {
            return String.format(Locale.ROOT, "%.1f tok/s aggregate", s * Integer.parseInt(r.p("batch")));
        }
        if (b.startsWith("PrefillBench")) {
            return String.format(Locale.ROOT, "%.1f prompt tok/s", s);
        }
        return "";
    }

    /** Bytes per weight: Q8_0 and Q4_0 are 34 and 18 bytes per block of 32. */
    static double bytes(String dtype) {
        return switch (dtype.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> 4;
            case "q8_0" -> 34.0 / 32;
            case "q4_0" -> 18.0 / 32;
            default -> 2;
        };
    }

    /**
     * Bytes of weight matrices read per decoded token: the per-layer projections and lm_head, in {@code quant}
     * where a matrix's rows split into blocks of 32 (dt_proj of fm-130m, 48 columns, stays as stored).
     */
    static double weightBytesPerToken(String shapeName, String dtype, String quant) {
        SyntheticCheckpoint.Shape s = SyntheticCheckpoint.Shape.of(shapeName);
        long d = s.hidden();
        long dIn = s.intermediate();
        long r = s.timeStepRank();
        long n = SyntheticCheckpoint.STATE;
        double perLayer = matrixBytes(2 * dIn, d, dtype, quant)
                + matrixBytes(d, dIn, dtype, quant)
                + matrixBytes(r + 2 * n, dIn, dtype, quant)
                + matrixBytes(dIn, r, dtype, quant);
        return s.layers() * perLayer + matrixBytes(s.vocab(), d, dtype, quant);
    }

    private static double matrixBytes(long rows, long cols, String dtype, String quant) {
        boolean quantized = !quant.equalsIgnoreCase("none") && cols % 32 == 0;
        return (double) rows * cols * bytes(quantized ? quant : dtype);
    }
}
