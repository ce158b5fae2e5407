package io.falconmamba.hub;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in for the Hugging Face Hub on 127.0.0.1 (port 0), serving one repository from a directory the
 * way the Hub does: {@code /org/name/resolve/{rev}/{file}} answers {@code .safetensors} files with a 302 to
 * {@code /cdn/{file}} carrying X-Linked-Etag (quoted sha256), X-Linked-Size and X-Repo-Commit, and small
 * files directly with an ETag and X-Repo-Commit. {@code /cdn/} honours {@code Range: bytes=N-}.
 * Faults can be switched on per file.
 */
final class FakeHub implements AutoCloseable {

    static final String COMMIT = "3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final ExecutorService executor;
    private final Path dir;
    private final String repoId;

    /** When set, resolve requests need {@code Authorization: Bearer <token>}. */
    volatile String requiredToken;
    /** Serve a 200 with the whole file even when a Range was asked for. */
    volatile boolean ignoreRange;
    /** CDN transfers of these files are cut after half of the body, once each. */
    final Set<String> cutOnce = ConcurrentHashMap.newKeySet();
    /** CDN transfers of these files stall after half of the body (for {@link #stallMillis}), once each. */
    final Set<String> stallOnce = ConcurrentHashMap.newKeySet();

    volatile long stallMillis = 3000;
    /** These files are served with one byte flipped. */
    final Set<String> corrupt = ConcurrentHashMap.newKeySet();
    /** These files answer 404 as if absent from the repo. */
    final Set<String> missing = ConcurrentHashMap.newKeySet();

    private final List<String> log = Collections.synchronizedList(new ArrayList<>());

    FakeHub(Path dir, String repoId) throws IOException {
        this.dir = dir;
        this.repoId = repoId;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "fake-hub");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    int requestCount() {
        return log.size();
    }

    /** Each request as "METHOD path" plus " range=bytes=N-" when a Range header was sent. */
    List<String> requests() {
        synchronized (log) {
            return List.copyOf(log);
        }
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha1(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String range = ex.getRequestHeaders().getFirst("Range");
            log.add(ex.getRequestMethod() + " " + path + (range != null ? " range=" + range : ""));
            String resolvePrefix = "/" + repoId + "/resolve/";
            if (path.startsWith(resolvePrefix)) {
                resolve(ex, path.substring(resolvePrefix.length()));
            } else if (path.equals("/api/models/" + repoId + "/revision/main")) {
                listing(ex);
            } else if (path.startsWith("/cdn/")) {
                cdn(ex, decode(path.substring("/cdn/".length())), range);
            } else {
                ex.getResponseHeaders().set("X-Error-Code", "RepositoryNotFound");
                ex.sendResponseHeaders(404, -1);
            }
        } catch (IOException e) {
            // the client went away or we cut the transfer on purpose
        }
    }

    /** The Hub's model API answer: the repository's files as {@code siblings[].rfilename}. */
    private void listing(HttpExchange ex) throws IOException {
        StringBuilder json = new StringBuilder("{\"sha\":\"" + COMMIT + "\",\"siblings\":[");
        try (var files = Files.list(dir)) {
            List<String> names =
                    files.map(p -> p.getFileName().toString()).sorted().toList();
            for (int i = 0; i < names.size(); i++) {
                json.append(i == 0 ? "" : ",")
                        .append("{\"rfilename\":\"")
                        .append(names.get(i))
                        .append("\"}");
            }
        }
        json.append("]}");
        byte[] data = json.toString().getBytes(StandardCharsets.UTF_8);
        body(ex, data, 200, data.length, 0);
    }

    private void resolve(HttpExchange ex, String rest) throws IOException {
        Headers out = ex.getResponseHeaders();
        String token = requiredToken;
        if (token != null && !("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            out.set("X-Error-Code", "RepositoryNotFound");
            out.set("X-Error-Message", "Invalid credentials in Authorization header");
            ex.sendResponseHeaders(401, -1);
            return;
        }
        int slash = rest.indexOf('/');
        String revision = decode(rest.substring(0, slash));
        String file = decode(rest.substring(slash + 1));
        if (!revision.equals("main") && !revision.equals(COMMIT)) {
            out.set("X-Error-Code", "RevisionNotFound");
            ex.sendResponseHeaders(404, -1);
            return;
        }
        Path f = dir.resolve(file);
        if (missing.contains(file) || !Files.isRegularFile(f) || file.contains("..")) {
            out.set("X-Error-Code", "EntryNotFound");
            ex.sendResponseHeaders(404, -1);
            return;
        }
        byte[] data = Files.readAllBytes(f);
        out.set("X-Repo-Commit", COMMIT);
        if (file.endsWith(".safetensors")) {
            out.set("ETag", "\"" + sha1(("pointer " + file).getBytes(StandardCharsets.UTF_8)) + "\"");
            out.set("X-Linked-Etag", "\"" + sha256(data) + "\"");
            out.set("X-Linked-Size", Long.toString(data.length));
            out.set("Location", "/cdn/" + file);
            ex.sendResponseHeaders(302, -1);
            return;
        }
        out.set("ETag", "\"" + sha1(data) + "\"");
        body(ex, data, 200, data.length, 0);
    }

    private void cdn(HttpExchange ex, String file, String range) throws IOException {
        Path f = dir.resolve(file);
        if (!Files.isRegularFile(f) || file.contains("..")) {
            ex.sendResponseHeaders(404, -1);
            return;
        }
        byte[] data = Files.readAllBytes(f);
        if (corrupt.contains(file)) {
            data = data.clone();
            data[data.length / 2] ^= (byte) 0x5a;
        }
        Headers out = ex.getResponseHeaders();
        out.set("ETag", "\"cdn-" + sha1(data).substring(0, 16) + "\"");
        out.set("Accept-Ranges", "bytes");
        int start = 0;
        int status = 200;
        Matcher m = range == null ? null : RANGE.matcher(range);
        if (m != null && m.matches() && !ignoreRange) {
            start = Integer.parseInt(m.group(1));
            if (start >= data.length) {
                out.set("Content-Range", "bytes */" + data.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            status = 206;
            out.set("Content-Range", "bytes " + start + "-" + (data.length - 1) + "/" + data.length);
        }
        if (ex.getRequestMethod().equals("GET") && cutOnce.remove(file)) {
            ex.sendResponseHeaders(status, data.length - start);
            OutputStream os = ex.getResponseBody();
            os.write(data, start, (data.length - start) / 2);
            os.flush();
            // The drop can reset the connection, and a reset discards what the client has not read
            // yet: give it time to drain, so the cut lands after (nearly) half of the body.
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // Closing with fewer bytes than announced makes the server drop the connection.
            throw new IOException("cut on purpose");
        }
        if (ex.getRequestMethod().equals("GET") && stallOnce.remove(file)) {
            ex.sendResponseHeaders(status, data.length - start);
            OutputStream os = ex.getResponseBody();
            os.write(data, start, (data.length - start) / 2);
            os.flush();
            try {
                Thread.sleep(stallMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("stalled on purpose");
        }
        body(ex, data, status, data.length - start, start);
    }

    private static void body(HttpExchange ex, byte[] data, int status, int length, int offset) throws IOException {
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(data, offset, length);
        }
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new UncheckedIOException(new IOException("bad escape in " + s));
        }
    }
}
