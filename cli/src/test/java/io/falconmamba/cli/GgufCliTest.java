package io.falconmamba.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.loader.gguf.GgmlType;
import io.falconmamba.loader.gguf.GgufFile;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line on GGUF files: info, --model file.gguf, convert. */
class GgufCliTest {

    static final Path FOLDER = CliTest.ROOT.resolve("fixtures/gguf/gguf-falcon-mamba");

    @TempDir
    Path dir;

    @Test
    void infoListsMetadataTypesAndBytesPerToken() {
        CliTest.Run r = CliTest.run(
                null, "info", "--model", FOLDER.resolve("model-Q4_K_M.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("general.architecture"), r.out());
        assertTrue(r.out().contains("\"mamba\""), r.out());
        assertTrue(r.out().contains("tokenizer.ggml.tokens") && r.out().contains("[STRING × 512]"), r.out());
        for (String type : new String[] {"F32", "Q4_K", "Q5_0", "Q6_K"}) {
            assertTrue(r.out().contains("  " + type + " "), type + " in\n" + r.out());
        }
        assertTrue(r.out().contains("read per token:"), r.out());
    }

    @Test
    void generatesFromAGgufFileTheReferenceGreedyIds() throws Exception {
        JsonNode ref = CliTest.JSON.readTree(FOLDER.resolve("reference.json").toFile());
        StringBuilder prompt = new StringBuilder();
        ref.get("sequences")
                .get(0)
                .forEach(n -> prompt.append(prompt.isEmpty() ? "" : ",").append(n.asInt()));
        CliTest.Run r = CliTest.run(
                null,
                "generate",
                "--model",
                FOLDER.resolve("model-F32.gguf").toString(),
                "--prompt-ids",
                prompt.toString(),
                "--max-new-tokens",
                "4",
                "--temperature",
                "0",
                "--threads",
                "1",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode ids = CliTest.JSON.readTree(r.out()).get("ids");
        JsonNode f32 = ref.get("types").get("F32");
        // the first four reference steps have top-2 margins above 0.03: no float rounding can swap them
        for (int i = 0; i < 4; i++) {
            assertTrue(f32.get("greedy_top2_margins").get(i).asDouble() > 0.01);
            assertEquals(f32.get("greedy_ids").get(i).asInt(), ids.get(i).asInt(), "step " + i);
        }
    }

    @Test
    void convertWritesAFileTheReaderAccepts() {
        Path out = dir.resolve("converted-q8.gguf");
        CliTest.Run r = CliTest.run(
                null,
                "convert",
                "--model",
                FOLDER.toString(),
                "--out",
                out.toString(),
                "--type",
                "q8_0",
                "--threads",
                "2");
        assertEquals(0, r.code(), r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(GgmlType.Q8_0, f.info("blk.0.ssm_in.weight").type());
            assertEquals(7, f.integer("general.file_type", 0));
        }
    }

    @Test
    void convertRefusesAnUnknownType() {
        CliTest.Run r = CliTest.run(
                null,
                "convert",
                "--model",
                FOLDER.toString(),
                "--out",
                dir.resolve("x.gguf").toString(),
                "--type",
                "q3_k");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--type q3_k is not one this build writes"), r.err());
    }

    @Test
    void ggufFileNeedsARepoId() {
        CliTest.Run r = CliTest.run(null, "info", "--model", CliTest.TINY.toString(), "--gguf-file", "model-Q8_0.gguf");
        assertEquals(2, r.code(), "a flag that does not fit the model is a usage error");
        assertTrue(r.err().contains("--gguf-file goes with a repo id"), r.err());
    }
}
