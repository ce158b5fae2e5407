package io.falconmamba.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve}'s own mistakes are one line and a non-zero exit, before any model is loaded. */
class ServeCommandTest {

    @Test
    void badServeOptionsAreOneLineErrors(@TempDir Path dir) throws Exception {
        CliTest.Run r = CliTest.run(null, "serve", "--state-cache-mb", "-1");
        assertEquals(1, r.code());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().contains("--state-cache-mb"), r.err());

        Path empty = Files.writeString(dir.resolve("key"), "  \n");
        r = CliTest.run(null, "serve", "--api-key-file", empty.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is empty"), r.err());

        r = CliTest.run(null, "serve", "--api-key-file", dir.resolve("missing").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing"), r.err());

        r = CliTest.run(null, "serve", "--port", "many");
        assertEquals(2, r.code());

        r = CliTest.run(null, "serve", "--state-spill-dir", dir.toString(), "--state-spill-mb", "-1");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--state-spill-mb"), r.err());
    }

    @Test
    void aSpillDirectoryHeldByAnotherServerIsRefused(@TempDir Path dir) throws Exception {
        try (FileChannel ch = FileChannel.open(
                        dir.resolve(".falcon-mamba-spill.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock held = ch.lock()) {
            CliTest.Run r = CliTest.run(null, "serve", "--port", "0", "--state-spill-dir", dir.toString());
            assertEquals(1, r.code());
            assertTrue(r.err().contains("in use by another server"), r.err());
            assertTrue(held.isValid());
        }
    }

    @Test
    void serveIsListedInTheHelp() {
        CliTest.Run r = CliTest.run(null, "serve", "--help");
        assertEquals(0, r.code());
        assertTrue(
                r.out().contains("--max-batch")
                        && r.out().contains("--api-key-file")
                        && r.out().contains("--state-spill-dir"),
                r.out());
    }
}
