package io.falconmamba.server;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Notices that the client of a request which is not streamed has closed its connection, so that its generation can be
 * cancelled and its batch slot freed. The JDK HTTP server gives no such signal: once a request body is read, its
 * stream answers end-of-body without looking at the socket, the socket itself is not exposed, and the server does not
 * watch a connection while its exchange is being handled; only a write would fail, and a plain reply has nothing to
 * write before it is done.
 *
 * <p>Linux lists every TCP connection of the process's network namespace, with its state, in {@code
 * /proc/self/net/tcp} and {@code tcp6}. A connection in {@code CLOSE_WAIT} has received the client's FIN: the client
 * closed the socket (or its process ended). Every {@link #INTERVAL_MILLIS} while a request is watched, one thread
 * reads those tables once and calls the callback of each watched connection found in that state. A connection reset
 * instead of closed leaves the table; a missing row is not taken as a disconnect, since the table is read in pieces
 * and a row can be skipped while connections come and go. Where the tables do not exist (not Linux) nothing is
 * noticed, and a request runs until it ends or times out. A client that shuts down only its sending side and still
 * waits for the reply (rare for HTTP) is taken as gone.
 */
final class DisconnectWatcher implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(DisconnectWatcher.class.getName());
    static final long INTERVAL_MILLIS = 50;
    private static final String CLOSE_WAIT = "08";
    private static final List<Path> TABLES = List.of(Path.of("/proc/self/net/tcp"), Path.of("/proc/self/net/tcp6"));

    /** Callbacks by the connection's row key ({@code local remote} as the kernel writes them). */
    private final Map<String, Runnable> watched = new ConcurrentHashMap<>();

    private final Thread thread;
    private volatile boolean running = true;

    DisconnectWatcher() {
        this.thread = supported()
                ? Thread.ofPlatform()
                        .name("falcon-mamba-disconnect-watcher")
                        .daemon()
                        .start(this::loop)
                : null;
    }

    /** Whether this platform lists its TCP connections where the watcher reads them. */
    static boolean supported() {
        return Files.isReadable(TABLES.get(0));
    }

    /**
     * Calls {@code onClosed} (from the watcher's thread) when the client at {@code remote} closes its connection
     * to {@code local}, until the returned handle is closed.
     */
    Watch watch(InetSocketAddress local, InetSocketAddress remote, Runnable onClosed) {
        if (thread == null || local == null || remote == null) {
            return () -> {};
        }
        List<String> keys = keys(local, remote);
        for (String k : keys) {
            watched.put(k, onClosed);
        }
        synchronized (this) {
            notifyAll();
        }
        return () -> keys.forEach(watched::remove);
    }

    /** A watched connection; closing it stops the watch. */
    interface Watch extends AutoCloseable {
        @Override
        void close();
    }

    private void loop() {
        while (running) {
            try {
                synchronized (this) {
                    while (running && watched.isEmpty()) {
                        wait();
                    }
                }
                Thread.sleep(INTERVAL_MILLIS);
                scan();
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "cannot read the TCP connection table; disconnects go unnoticed", e);
                watched.clear();
                return;
            }
        }
    }

    private void scan() throws IOException {
        for (Path table : TABLES) {
            if (watched.isEmpty() || !Files.isReadable(table)) {
                continue;
            }
            for (String line : Files.readAllLines(table)) {
                // "  sl  local_address rem_address   st ...", e.g. "0: 0100007F:1F90 0100007F:C350 08 ..."
                String[] f = line.trim().split("\\s+", 5);
                if (f.length < 4 || !f[3].equals(CLOSE_WAIT)) {
                    continue;
                }
                Runnable r = watched.remove(f[1] + " " + f[2]);
                if (r != null) {
                    r.run();
                }
            }
        }
    }

    /** The row keys the connection can have: IPv4, and IPv4-mapped IPv6 for a dual-stack socket. */
    static List<String> keys(InetSocketAddress local, InetSocketAddress remote) {
        InetAddress l = local.getAddress();
        InetAddress r = remote.getAddress();
        String key = hex(l.getAddress(), local.getPort()) + " " + hex(r.getAddress(), remote.getPort());
        if (l instanceof Inet4Address && r instanceof Inet4Address) {
            return List.of(key, hex(mapped(l), local.getPort()) + " " + hex(mapped(r), remote.getPort()));
        }
        return List.of(key);
    }

    private static byte[] mapped(InetAddress v4) {
        byte[] out = new byte[16];
        out[10] = (byte) 0xFF;
        out[11] = (byte) 0xFF;
        System.arraycopy(v4.getAddress(), 0, out, 12, 4);
        return out;
    }

    /** The kernel writes an address as 32-bit words in the host's byte order, each as 8 hex digits, then the port. */
    static String hex(byte[] address, int port) {
        ByteBuffer words = ByteBuffer.wrap(address).order(ByteOrder.nativeOrder());
        StringBuilder out = new StringBuilder(address.length * 2 + 5);
        while (words.hasRemaining()) {
            out.append(HexFormat.of().withUpperCase().toHexDigits(words.getInt()));
        }
        return out.append(':').append(String.format(Locale.ROOT, "%04X", port)).toString();
    }

    @Override
    public void close() {
        running = false;
        if (thread != null) {
            thread.interrupt();
        }
        watched.clear();
    }
}
