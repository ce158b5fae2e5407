package io.falconmamba.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.cli.CliTest.Run;
import io.falconmamba.loader.SafetensorsFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a user types or a folder holds never ends a run or a conversation unexplained; usage errors exit 2. */
class CliHardeningTest {

    static Run run(String stdin, String... args) {
        return CliTest.run(stdin, args);
    }

    /** The tiny fixture without its tokenizer files, as benchmark checkpoints and weights-only folders are. */
    static Path weightsOnly(Path tmp) throws IOException {
        Path dir = tmp.resolve("weights-only");
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(CliTest.TINY)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (!name.startsWith("tokenizer")) {
                    Files.copy(f, dir.resolve(name));
                }
            }
        }
        return dir;
    }

    static void assertOneLine(Run r, String what) {
        List<String> lines = r.errLines();
        assertEquals(1, lines.size(), what + " should print one line, got:\n" + r.err());
        assertTrue(lines.get(0).startsWith("error: "), lines.get(0));
    }

    /** Main adds only the subcommand a command line names; everything else still sees all of them. */
    @Test
    void helpListsEveryCommandAndOptionsMayPrecedeTheCommand() {
        Run help = run(null, "--help");
        assertEquals(0, help.code(), help.err());
        for (String command : List.of("generate", "chat", "logits", "info", "bench", "convert", "serve", "help")) {
            assertTrue(help.out().contains("\n  " + command + " "), command + " missing from:\n" + help.out());
        }
        Run helpFor = run(null, "help", "bench");
        assertEquals(0, helpFor.code(), helpFor.err());
        assertTrue(helpFor.out().contains("falcon-mamba bench"), helpFor.out());
        Run verboseFirst = run(null, "--verbose", "info", "-m", CliTest.TINY.toString());
        assertEquals(0, verboseFirst.code(), verboseFirst.err());
        Run typo = run(null, "generat", "--prompt", "x");
        assertEquals(2, typo.code());
        assertOneLine(typo, "an unknown command");
    }

    @Test
    void aFailedSaveOrLoadIsReportedAndTheConversationGoesOn(@TempDir Path tmp) throws IOException {
        Path corrupt = tmp.resolve("corrupt.bin");
        Files.write(corrupt, new byte[] {'F', 'M', 'C', 'S', 0, 0, 0, 2, 1, 2, 3});
        String script = "In the beginning\n/save " + tmp + "\n/load " + corrupt + "\nand the earth\n/quit\n";
        Run r = run(script, "chat", "--temperature", "0", "--max-new-tokens", "5", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("error: cannot save to " + tmp), r.err());
        assertTrue(r.err().contains("error: cannot load " + corrupt), r.err());
        // Both turns were answered: the second after the failed commands, with the state of the first.
        assertEquals(2, r.err().lines().filter(l -> l.contains("state holds")).count(), r.err());
    }

    @Test
    void tokenLevelCommandsWorkWithoutATokenizer(@TempDir Path tmp) throws Exception {
        Path dir = weightsOnly(tmp);
        Path full = tmp.resolve("full.safetensors");
        Path bare = tmp.resolve("bare.safetensors");
        assertEquals(
                0,
                run(null, "logits", "-m", CliTest.TINY.toString(), "--ids", "1,2,3", "--out", full.toString())
                        .code());
        Run logits = run(null, "logits", "-m", dir.toString(), "--ids", "1,2,3", "--out", bare.toString());
        assertEquals(0, logits.code(), logits.err());
        try (SafetensorsFile a = SafetensorsFile.open(full);
                SafetensorsFile b = SafetensorsFile.open(bare)) {
            assertArrayEquals(
                    a.tensor("logits").toFloatArray(), b.tensor("logits").toFloatArray(), "the same engine, same ids");
        }

        String[] gen = {"generate", "--prompt-ids", "1,2,3", "--temperature", "0", "--max-new-tokens", "6", "--json"};
        Run withTok = run(null, concat(gen, "-m", CliTest.TINY.toString()));
        Run without = run(null, concat(gen, "-m", dir.toString()));
        assertEquals(0, without.code(), without.err());
        JsonNode a = CliTest.JSON.readTree(withTok.out());
        JsonNode b = CliTest.JSON.readTree(without.out());
        assertEquals(a.get("ids"), b.get("ids"));
        assertEquals(a.get("stop_reason"), b.get("stop_reason"));
        assertTrue(b.get("text").isNull(), b.toString());

        Run text = run(null, "generate", "-m", dir.toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "4");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.err().contains("cannot detokenize"), text.err());
        assertTrue(text.out().strip().startsWith("["), text.out());

        Run info = run(null, "info", "-m", dir.toString());
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("tokenizer:        none"), info.out());
    }

    @Test
    void flagMistakesExitTwoBeforeTheModelLoads(@TempDir Path tmp) {
        // The model does not exist: a flag error reported first proves the flags are checked before loading.
        String missing = tmp.resolve("no-model").toString();
        List<String[]> cases = List.of(
                new String[] {"generate", "--prompt", "x", "--temperature", "-1"},
                new String[] {"generate", "--prompt", "x", "--top-p", "2"},
                new String[] {"generate", "--prompt", "x", "--prefill", "chunked:0"},
                new String[] {"generate", "--prompt", "x", "--threads", "0"},
                new String[] {"generate", "--prompt", "x", "--quant", "q5_k"},
                new String[] {"generate", "--prompt-ids", "1,,2"},
                new String[] {"generate", "--prompt-ids", "1,2,"},
                new String[] {"generate", "--prompt-ids", "-4"},
                new String[] {"chat", "--repetition-penalty", "0"},
                new String[] {
                    "logits", "--ids", "1,,2", "--out", tmp.resolve("x").toString()
                },
                new String[] {
                    "logits",
                    "--ids",
                    "1",
                    "--prefill",
                    "chunked:0",
                    "--out",
                    tmp.resolve("x").toString()
                },
                new String[] {"bench", "--batch", "0"});
        for (String[] c : cases) {
            String[] args = concat(c, "--model", missing);
            Run r = run("", args);
            String what = String.join(" ", args);
            assertEquals(2, r.code(), what + ": " + r.err());
            assertOneLine(r, what);
            assertFalse(r.err().contains("no-model"), what + " looked at the model first: " + r.err());
        }
    }

    @Test
    void invalidUtf8PromptsAreErrorsWhereverTheyComeFrom(@TempDir Path tmp) throws IOException {
        byte[] bad = {'H', 'i', ' ', (byte) 0xC3, (byte) 0x28, '!'};
        Path file = tmp.resolve("prompt.txt");
        Files.write(file, bad);
        Run fromFile = run(null, "generate", "--prompt-file", file.toString(), "--max-new-tokens", "2");
        assertEquals(1, fromFile.code(), fromFile.err());
        assertOneLine(fromFile, "--prompt-file");
        assertTrue(fromFile.err().contains("not valid UTF-8 (at byte 3)"), fromFile.err());
        Run fromStdin = CliTest.runBytes(bad, "generate", "--max-new-tokens", "2");
        assertEquals(1, fromStdin.code(), fromStdin.err());
        assertOneLine(fromStdin, "stdin");
        assertTrue(fromStdin.err().contains("standard input is not valid UTF-8 (at byte 3)"), fromStdin.err());
        assertEquals("héllo ✓", Utf8.decode("héllo ✓".getBytes(StandardCharsets.UTF_8), "x"));
    }

    @Test
    void theMissingModelHintNamesTheDownloadFlag() {
        Run r = run(null, "info", "--model", "not-an-org/not-a-model");
        assertEquals(1, r.code(), r.err());
        assertOneLine(r, "missing model");
        assertTrue(r.err().contains("add --download"), r.err());
        assertFalse(r.err().contains("ResolveOptions"), r.err());
    }

    @Test
    void threadsBeyondTheCoresAreBoundedWithANote() {
        Run r = run(
                null,
                "generate",
                "-m",
                CliTest.TINY.toString(),
                "--prompt-ids",
                "1,2",
                "--max-new-tokens",
                "2",
                "--threads",
                "5000");
        assertEquals(0, r.code(), r.err());
        int cores = Runtime.getRuntime().availableProcessors();
        assertTrue(r.err().contains("--threads 5000 is more than the " + cores + " cores: using " + cores), r.err());
    }

    static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }
}
