package io.falconmamba.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.testutil.Fixtures;
import io.falconmamba.core.testutil.OutputDigest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The same input gives the same bits however the JIT has compiled the kernels. Interpreted and C1 code run the
 * Vector API's Java fallback, C2 its intrinsics; where those round differently (the vector EXP/LOG1P, a
 * reduction whose order C2 rearranges) a prompt's logits moved by an ulp after warm-up, which broke restored
 * states continuing exactly and seeded sampling repeating. A JVM limited to C1 computes the digest of every
 * forward path; this JVM computes it again after the kernels have run hot enough for C2.
 */
class DeterminismTest {

    @Test
    void compiledKernelsGiveTheBitsTheFallbackGives() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(
                java,
                "-XX:TieredStopAtLevel=1",
                "--add-modules",
                "jdk.incubator.vector",
                "-D" + io.falconmamba.testkit.TestData.PROPERTY + "=" + Fixtures.root(),
                "-cp",
                System.getProperty("java.class.path"),
                OutputDigest.class.getName()));
        Path out = Files.createTempFile("digest", ".txt");
        Process child = new ProcessBuilder(cmd)
                .redirectErrorStream(false)
                .redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();

        // Meanwhile, here: enough repetitions that the kernels' loops reach C2.
        String compiled = null;
        for (int i = 0; i < 6; i++) {
            compiled = OutputDigest.all();
        }

        assertTrue(child.waitFor(5, TimeUnit.MINUTES), "the C1-only JVM did not finish");
        assertEquals(0, child.exitValue(), "the C1-only JVM failed");
        String fallback = Files.readString(out, StandardCharsets.UTF_8);
        Files.delete(out);
        assertTrue(fallback.lines().count() >= 8, "the child printed its digests: " + fallback);
        assertEquals(fallback, compiled);
    }
}
