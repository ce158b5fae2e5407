package io.falconmamba.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad argument to the checkpoint generator is one line and exit code 2, never a stack trace. */
class SyntheticCheckpointArgsTest {

    @Test
    void badArgumentsAreOneLineAndExitTwo(@TempDir Path tmp) throws Exception {
        String out = tmp.toString();
        String[][] cases = {
            {"--shape", "fm-9b", "--out", out},
            {"--shape", "tiny", "--dtype", "f8", "--out", out},
            {"--shape", "tiny", "--seed", "x", "--out", out},
            {"--shape", "tiny", "--out"},
            {"--shape", "tiny"},
            {"--colour", "red"}
        };
        PrintStream oldErr = System.err;
        for (String[] args : cases) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code;
            try {
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                code = SyntheticCheckpoint.run(args);
            } finally {
                System.setErr(oldErr);
            }
            String text = err.toString(StandardCharsets.UTF_8);
            String what = String.join(" ", args);
            assertEquals(2, code, what);
            assertEquals(1, text.lines().count(), what + ": " + text);
            assertTrue(text.startsWith("error: "), text);
            assertFalse(text.contains("\tat "), text);
        }
    }
}
