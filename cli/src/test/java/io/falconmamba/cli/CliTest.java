package io.falconmamba.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.falconmamba.loader.SafetensorsFile;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line end to end, in process: outputs against the references, and every user mistake as one line. */
class CliTest {

    static final Path ROOT = io.falconmamba.testkit.TestData.root();
    static final Path DEMO = ROOT.resolve("models/demo-kjv");
    static final Path TINY = ROOT.resolve("fixtures/tiny-falcon-mamba");
    static final ObjectMapper JSON = new ObjectMapper();

    record Run(int code, String out, String err) {
        /** stderr without the JVM's own notices. */
        List<String> errLines() {
            List<String> lines = new ArrayList<>();
            for (String l : err.split("\n")) {
                if (!l.isBlank() && !l.startsWith("WARNING:") && !l.startsWith("loaded ")) {
                    lines.add(l);
                }
            }
            return lines;
        }
    }

    static Run run(String stdin, String... args) {
        return runBytes((stdin == null ? "" : stdin).getBytes(StandardCharsets.UTF_8), args);
    }

    static synchronized Run runBytes(byte[] stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(stdin));
            System.setProperty("falconmamba.demoModel", DEMO.toString());
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    @Test
    void generateJsonReproducesTheDemoReference() throws Exception {
        JsonNode refs =
                JSON.readTree(DEMO.resolve("demo-reference.json").toFile()).get("references");
        for (JsonNode ref : refs) {
            Run r = run(
                    null,
                    "generate",
                    "--prompt",
                    ref.get("prompt").asText(),
                    "--temperature",
                    "0",
                    "--json",
                    "--max-new-tokens",
                    "48",
                    "--ignore-eos",
                    "--threads",
                    "1");
            assertEquals(0, r.code(), r.err());
            JsonNode got = JSON.readTree(r.out());
            assertEquals(ref.get("prompt_ids"), got.get("prompt_ids"));
            assertEquals(ref.get("generated_ids"), got.get("ids"));
            assertEquals(ref.get("text").asText(), got.get("text").asText());
            assertEquals("length", got.get("stop_reason").asText());
        }
    }

    @Test
    void generateStreamsTextAndTakesPromptIdsAndStdin() {
        Run r = run(
                null,
                "generate",
                "--prompt-ids",
                "1154,259,2077",
                "--temperature",
                "0",
                "--max-new-tokens",
                "8",
                "--threads",
                "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(" of the face of his father"), r.out());
        Run s = run("In the beginning", "generate", "--temperature", "0", "--max-new-tokens", "8", "--threads", "1");
        assertEquals(0, s.code(), s.err());
        assertEquals(r.out(), s.out(), "stdin prompt gives the same continuation");
        assertTrue(s.err().contains("tokens/s"), s.err());
    }

    @Test
    void logitsMatchTheFixtureReference(@TempDir Path tmp) throws Exception {
        JsonNode ref = JSON.readTree(TINY.resolve("reference.json").toFile())
                .get("sequences")
                .get(1);
        StringBuilder ids = new StringBuilder();
        for (JsonNode id : ref.get("input_ids")) {
            ids.append(ids.isEmpty() ? "" : ",").append(id.asInt());
        }
        Path out = tmp.resolve("logits.safetensors");
        Run r = run(
                null,
                "logits",
                "--model",
                TINY.toString(),
                "--ids",
                ids.toString(),
                "--out",
                out.toString(),
                "--prefill",
                "chunked:5",
                "--threads",
                "1");
        assertEquals(0, r.code(), r.err());
        try (SafetensorsFile got = SafetensorsFile.open(out);
                SafetensorsFile want = SafetensorsFile.open(TINY.resolve("reference.safetensors"))) {
            float[] a = got.tensor("logits").toFloatArray();
            float[] b = want.tensor("seq1.logits").toFloatArray();
            assertEquals(b.length, a.length);
            double max = 0;
            for (int i = 0; i < a.length; i++) {
                max = Math.max(max, Math.abs(a[i] - b[i]));
            }
            // Same float32-vs-float64 tolerance as the core reference tests (see ModelReferenceTest).
            assertTrue(max <= 1e-4, "logits differ from the reference by " + max);
        }
    }

    @Test
    void benchPrintsFiguresAsJson() throws Exception {
        Run r = run(
                null,
                "bench",
                "--prompt-tokens",
                "16",
                "--gen-tokens",
                "4",
                "--batch",
                "2",
                "--repetitions",
                "2",
                "--json",
                "--threads",
                "1");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals(192, o.get("shape").get("hidden_size").asInt());
        assertEquals("BF16", o.get("dtype").asText());
        assertEquals(2, o.get("batch").asInt());
        assertTrue(o.get("decode_tokens_per_s").get("median").asDouble() > 0);
        assertTrue(o.get("prefill_tokens_per_s").get("min").asDouble()
                <= o.get("prefill_tokens_per_s").get("max").asDouble());
    }

    @Test
    void benchGivesDecodeAsAShareOfTheMeasuredBandwidth() throws Exception {
        Run r = run(
                null,
                "bench",
                "--prompt-tokens",
                "8",
                "--gen-tokens",
                "4",
                "--batch",
                "2",
                "--repetitions",
                "1",
                "--json",
                "--bandwidth",
                "--threads",
                "2");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        double read = o.get("read_bandwidth_gb_per_s").asDouble();
        double weights = o.get("decode_weight_gb_per_s").asDouble();
        // Two sequences per step read the weights once: steps/s (tok/s over the batch) × bytes per step.
        double steps = o.get("decode_tokens_per_s").get("median").asDouble() / 2;
        assertEquals(steps * o.get("weight_bytes_per_token").asLong() / 1e9, weights, weights * 1e-9);
        assertTrue(read > 0 && Double.isFinite(read), "read bandwidth " + read);
        assertEquals(weights / read, o.get("decode_bandwidth_share").asDouble(), 1e-12);

        Run text = run(
                null,
                "bench",
                "--prompt-tokens",
                "8",
                "--gen-tokens",
                "4",
                "--repetitions",
                "1",
                "--bandwidth",
                "--threads",
                "1");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("read bandwidth ") && text.out().contains("decode's weights at "), text.out());
        Run plain = run(
                null,
                "bench",
                "--mmap",
                "--prompt-tokens",
                "8",
                "--gen-tokens",
                "4",
                "--repetitions",
                "1",
                "--json",
                "--threads",
                "1");
        JsonNode p = JSON.readTree(plain.out());
        assertTrue(p.get("decode_weight_gb_per_s").asDouble() > 0);
        assertTrue(p.get("read_bandwidth_gb_per_s") == null, "no probe without --bandwidth");
    }

    @Test
    void benchAndGenerateQuantizeAtLoad() throws Exception {
        for (String q : new String[] {"q8_0", "q4_0"}) {
            Run r = run(
                    null,
                    "bench",
                    "--quant",
                    q,
                    "--prompt-tokens",
                    "8",
                    "--gen-tokens",
                    "4",
                    "--repetitions",
                    "1",
                    "--json",
                    "--threads",
                    "1");
            assertEquals(0, r.code(), r.err());
            JsonNode o = JSON.readTree(r.out());
            assertEquals(q, o.get("quantization").asText());
            assertEquals(q + " (from BF16)", o.get("dtype").asText());
            assertTrue(o.get("decode_tokens_per_s").get("median").asDouble() > 0);
        }
        Run g = run(
                null,
                "generate",
                "--quant",
                "q8_0",
                "--prompt",
                "In the beginning",
                "--max-new-tokens",
                "8",
                "--temperature",
                "0",
                "--threads",
                "1");
        assertEquals(0, g.code(), g.err());
        assertTrue(!g.out().isBlank(), g.err());
    }

    /**
     * Without either flag the demo model, smaller than {@code WeightStorage.MIN_COPY}, stays mapped; --no-mmap
     * copies it, --mmap maps it, and both flags are refused.
     */
    @Test
    void storageFollowsTheFlagsAndRejectsContradictoryOnes() throws Exception {
        Run info = run(null, "info");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("matrices read in place from the mapped files"), info.out());
        Run copied = run(null, "info", "--no-mmap");
        assertEquals(0, copied.code(), copied.err());
        assertTrue(copied.out().contains("matrices copied into memory at load"), copied.out());
        Run mapped = run(null, "info", "--mmap");
        assertEquals(0, mapped.code(), mapped.err());
        assertTrue(mapped.out().contains("matrices read in place from the mapped files"), mapped.out());
        Run both = run(null, "info", "--mmap", "--no-mmap");
        assertNotEquals(0, both.code());
        assertTrue(both.err().contains("--mmap and --no-mmap"), both.err());
    }

    @Test
    void benchCopiesWeightsIntoMemoryWithNoMmap() throws Exception {
        Run r = run(
                null,
                "bench",
                "--no-mmap",
                "--prompt-tokens",
                "8",
                "--gen-tokens",
                "4",
                "--repetitions",
                "1",
                "--json",
                "--threads",
                "1");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals("in_memory", o.get("weight_storage").asText());
        assertEquals("memory", o.get("weight_pages").get("storage").asText());
        int bits = o.get("vector_bits").asInt();
        assertTrue(bits == 128 || bits == 256 || bits == 512, "vector_bits " + bits);
        assertEquals(2, o.get("warmup_runs").asInt(), "two unmeasured runs by default");
        Run badWarmup = run(null, "bench", "--warmup", "-1");
        assertEquals(2, badWarmup.code(), badWarmup.err());
        assertTrue(badWarmup.err().contains("--warmup must be at least 0"), badWarmup.err());
        assertTrue(o.get("decode_tokens_per_s").get("median").asDouble() > 0);
        Run plain = run(
                null,
                "bench",
                "--mmap",
                "--prompt-tokens",
                "8",
                "--gen-tokens",
                "4",
                "--repetitions",
                "1",
                "--json",
                "--threads",
                "1");
        JsonNode mapped = JSON.readTree(plain.out());
        assertEquals("mapped", mapped.get("weight_storage").asText());
        JsonNode pages = mapped.get("weight_pages");
        assertEquals("mapped", pages.get("storage").asText());
        // The demo model is under WeightStorage.MIN_COPY: its file is not advised (HugePagesTest covers the advice).
        assertTrue(pages.get("advice").asText().startsWith("not asked (a small file"), pages.toString());
        if (pages.has("resident_bytes")) { // Linux: the decode runs have faulted the weights in
            assertTrue(pages.get("resident_bytes").asLong() > 0, pages.toString());
            assertTrue(pages.get("huge_page_bytes").asLong()
                    <= pages.get("resident_bytes").asLong());
        }
    }

    @Test
    void infoDescribesTheModel() {
        Run r = run(null, "info", "--model", TINY.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("falcon_mamba"), r.out());
        assertTrue(r.out().contains("state/sequence:   29,184 bytes"), r.out()); // 3 layers × 128 × (3 + 16) × 4 B
        assertTrue(r.out().contains("weight pages:     "), r.out());
    }

    @Test
    void chatKeepsStateAndSavesAndLoadsIt(@TempDir Path tmp) {
        Path saved = tmp.resolve("state.bin");
        String script = "In the beginning\n/save " + saved + "\n/reset\n/load " + saved + "\n/load "
                + tmp.resolve("missing") + "\n/quit\n";
        Run r = run(script, "chat", "--temperature", "0", "--max-new-tokens", "5", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(" of the face of his"), "stdout: [" + r.out() + "] stderr: " + r.err());
        assertTrue(Files.exists(saved));
        assertTrue(r.err().contains("(restored"), r.err());
        assertTrue(r.err().contains("cannot load"), r.err());
    }

    @Test
    void userMistakesAreOneClearLineAndANonZeroExit(@TempDir Path tmp) {
        List<String[]> cases = List.of(
                new String[] {"generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x"},
                new String[] {"generate", "--prompt", "x", "--temperature", "-1"},
                new String[] {"generate", "--prompt", "x", "--top-p", "1.5"},
                new String[] {"generate", "--prompt", "x", "--top-k", "-2"},
                new String[] {"generate", "--prompt", "x", "--max-new-tokens", "many"},
                new String[] {"generate", "--prompt", "x", "--prefill", "sideways"},
                new String[] {"generate", "--prompt", "x", "--threads", "0"},
                new String[] {
                    "generate", "--prompt-file", tmp.resolve("missing.txt").toString()
                },
                new String[] {"generate", "--prompt-ids", "1,two,3"},
                new String[] {"generate", "--prompt-ids", "999999"},
                new String[] {"generate", "--prompt", "x", "--prompt-ids", "1"},
                new String[] {"generate", "--no-such-flag"},
                new String[] {
                    "logits",
                    "--model",
                    TINY.toString(),
                    "--out",
                    tmp.resolve("x.safetensors").toString()
                },
                new String[] {"info", "--model", "not-an-org/not-a-model"},
                new String[] {"bench", "--quant", "q5_k"},
                new String[] {"bench", "--batch", "0"});
        for (String[] args : cases) {
            Run r = run("", args);
            String what = String.join(" ", args);
            assertNotEquals(0, r.code(), what + " should fail");
            List<String> lines = r.errLines();
            assertEquals(1, lines.size(), what + " should print one line, got:\n" + r.err());
            assertTrue(lines.get(0).startsWith("error: "), lines.get(0));
            assertTrue(!r.err().contains("\tat "), what + " printed a stack trace");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"--verbose"})
    void verboseShowsTheStackTrace(String flag, @TempDir Path tmp) {
        Run r = run("", "generate", flag, "--model", tmp.resolve("nope").toString(), "--prompt", "x");
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("\tat "), r.err());
    }
}
