package io.falconmamba.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads a model repository from the Hub into the hub cache layout ({@link HubCache}), the way
 * huggingface_hub does: a HEAD per file for its commit, etag and size (following same-host redirects,
 * stopping at a CDN redirect), then a GET of the bytes into {@code blobs/{etag}.incomplete}, resumed with
 * {@code Range} after a cut transfer, checked against the size and (for LFS files) the sha256 etag, moved
 * to {@code blobs/{etag}} and linked from {@code snapshots/{commit}/{file}}.
 *
 * <p>One instance per {@link #download} call; not thread-safe.
 */
final class HubDownloader {

    /** Files fetched besides the weights, in order; {@code true} = required. */
    private static final List<SideFile> SIDE_FILES = List.of(
            new SideFile("generation_config.json", false),
            new SideFile("tokenizer.json", true),
            new SideFile("tokenizer_config.json", false),
            new SideFile("special_tokens_map.json", false),
            new SideFile("chat_template.jinja", false));

    private record SideFile(String name, boolean required) {}

    private static final int MAX_REDIRECTS = 10;
    private static final int BUFFER = 1 << 16;
    private static final long PROGRESS_STEP = 256 * 1024;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final String USER_AGENT = "falcon-mamba-java (huggingface_hub-compatible cache)";

    private final ResolveOptions opts;
    private final Path cacheRoot;
    private final URI endpoint;
    private final String token;
    private final DownloadListener listener;

    private volatile HttpClient client;
    private ScheduledExecutorService watchdog;
    /** Set by the read loop; watched by {@link #watchdog}. */
    private volatile long lastByteNanos;

    private volatile boolean streaming;
    private volatile boolean stalled;
    /** Bytes of the current file written and hashed so far (valid also after a failed transfer). */
    private long streamedTo;

    /**
     * What a HEAD told about one file. {@code url} is the file's resolve URL on the Hub: every GET starts
     * there, so a retry gets a fresh (signed, expiring) CDN location and error messages never show one.
     */
    private record FileMeta(String file, String commit, String etag, long size, URI url) {}

    /** A non-2xx answer worth another attempt (5xx, 429, 408). */
    private static final class RetryableStatus extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        RetryableStatus(int status, URI uri) {
            super("HTTP " + status + " from " + uri);
            this.status = status;
        }
    }

    HubDownloader(ResolveOptions opts, Path cacheRoot) {
        this.opts = Objects.requireNonNull(opts);
        this.cacheRoot = Objects.requireNonNull(cacheRoot);
        this.endpoint = parseEndpoint(opts.endpoint());
        this.token = opts.token();
        this.listener = opts.listener();
    }

    /** Downloads what is missing of {@code repo} and returns its complete snapshot directory. */
    Path download(RepoId repo) {
        Path repoDir = HubCache.repoDir(cacheRoot, repo);
        String revision = repo.effectiveRevision();
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hub-download-watchdog");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(20, opts.readTimeout().toMillis() / 4);
        watchdog.scheduleAtFixedRate(this::checkStall, period, period, TimeUnit.MILLISECONDS);
        try {
            String commit = RepoId.isCommitHash(revision) ? revision : null;

            // config.json first: it also tells the commit the revision points at.
            FileMeta config = null;
            if (commit == null
                    || !Files.isRegularFile(snapshotDir(repoDir, commit).resolve(HubCache.CONFIG))) {
                config = head(repo, revision, HubCache.CONFIG, true);
                if (config.commit() != null) {
                    commit = config.commit();
                }
                if (commit == null) {
                    throw new HubException(
                            HubException.Reason.NETWORK,
                            "the server at " + endpoint
                                    + " did not say which commit " + repo.id() + "@" + revision
                                    + " is (no X-Repo-Commit header on " + resolveUrl(repo, revision, HubCache.CONFIG)
                                    + "): is HF_ENDPOINT a Hugging Face Hub?");
                }
                if (!HubCache.isSafeName(commit)) {
                    throw new HubException(
                            HubException.Reason.NETWORK,
                            "the server sent an invalid commit '" + commit + "' for " + repo);
                }
            }
            Path snapshot = snapshotDir(repoDir, commit);
            if (config != null) {
                fetch(repo, repoDir, snapshot, config);
            } else {
                reportCached(snapshot, HubCache.CONFIG);
            }

            // Everything else at the pinned commit, so a branch that moves meanwhile cannot mix versions.
            for (SideFile side : SIDE_FILES) {
                ensure(repo, repoDir, snapshot, commit, side.name(), side.required());
            }
            boolean sharded = ensure(repo, repoDir, snapshot, commit, HubCache.INDEX, false);
            if (sharded) {
                for (String shard : HubCache.shardNames(snapshot.resolve(HubCache.INDEX))) {
                    ensure(repo, repoDir, snapshot, commit, shard, true);
                }
            } else {
                ensure(repo, repoDir, snapshot, commit, HubCache.SINGLE_WEIGHTS, true);
            }

            if (!revision.equals(commit)) {
                HubCache.writeRef(repoDir, revision, commit);
            }
            List<String> missing = HubCache.missingFiles(snapshot);
            if (!missing.isEmpty()) {
                throw new HubException(
                        HubException.Reason.INCOMPLETE_MODEL,
                        "downloaded " + repo + " into " + snapshot + " but it is still missing "
                                + String.join(", ", missing));
            }
            return snapshot;
        } finally {
            watchdog.shutdownNow();
            closeClient();
        }
    }

    /**
     * Downloads one GGUF file of {@code repo}: the one {@code choice} names, or the one it picks from the
     * repository's file list (the Hub's {@code /api/models/{repo}/revision/{revision}}). Returns its path in the
     * snapshot.
     */
    Path downloadGguf(RepoId repo, GgufChoice choice) {
        Path repoDir = HubCache.repoDir(cacheRoot, repo);
        String revision = repo.effectiveRevision();
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hub-download-watchdog");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(20, opts.readTimeout().toMillis() / 4);
        watchdog.scheduleAtFixedRate(this::checkStall, period, period, TimeUnit.MILLISECONDS);
        try {
            String file = choice.fileName() != null
                    ? choice.pick(repo.toString(), List.of(choice.fileName()))
                    : choice.pick(repo.toString(), listFiles(repo, revision));
            if (!HubCache.isSafeRelativePath(file)) {
                throw new HubException(
                        HubException.Reason.INVALID_ID, "'" + file + "' is not a file name inside " + repo);
            }
            FileMeta meta = head(repo, revision, file, true);
            String commit = meta.commit() != null ? meta.commit() : RepoId.isCommitHash(revision) ? revision : null;
            if (commit == null || !HubCache.isSafeName(commit)) {
                throw new HubException(
                        HubException.Reason.NETWORK,
                        "the server at " + endpoint + " did not say which commit " + repo.id() + "@" + revision
                                + " is (no usable X-Repo-Commit header for " + file + ")");
            }
            Path snapshot = snapshotDir(repoDir, commit);
            fetch(repo, repoDir, snapshot, meta);
            if (!revision.equals(commit)) {
                HubCache.writeRef(repoDir, revision, commit);
            }
            return snapshot.resolve(file);
        } finally {
            watchdog.shutdownNow();
            closeClient();
        }
    }

    /** The file names of a repository at a revision, from the Hub's model API. */
    private List<String> listFiles(RepoId repo, String revision) {
        URI uri = URI.create(
                endpoint + "/api/models/" + repo.org() + "/" + repo.name() + "/revision/" + encode(revision));
        HttpResponse<byte[]> resp;
        try {
            resp = send(request(uri, "GET", -1), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new HubException(
                    HubException.Reason.NETWORK, "cannot list the files of " + repo + " (" + uri + "): " + e, e);
        }
        if (resp.statusCode() == 404 || resp.statusCode() == 401) {
            throw new HubException(
                    HubException.Reason.NOT_FOUND,
                    "repository " + repo + " not found on " + endpoint + " (HTTP " + resp.statusCode() + " from " + uri
                            + ")");
        }
        if (resp.statusCode() != 200) {
            throw new HubException(
                    HubException.Reason.NETWORK,
                    "cannot list the files of " + repo + ": HTTP " + resp.statusCode() + " from " + uri);
        }
        List<String> files = new ArrayList<>();
        try {
            com.fasterxml.jackson.databind.JsonNode root =
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(resp.body());
            for (com.fasterxml.jackson.databind.JsonNode s : root.path("siblings")) {
                if (s.path("rfilename").isTextual()) {
                    files.add(s.get("rfilename").asText());
                }
            }
        } catch (IOException e) {
            throw new HubException(
                    HubException.Reason.NETWORK, "the file list of " + repo + " from " + uri + " is not JSON", e);
        }
        return files;
    }

    private static Path snapshotDir(Path repoDir, String commit) {
        return repoDir.resolve("snapshots").resolve(commit);
    }

    /** Makes {@code file} present in the snapshot; returns false if it is optional and absent from the repo. */
    private boolean ensure(RepoId repo, Path repoDir, Path snapshot, String commit, String file, boolean required) {
        if (Files.isRegularFile(snapshot.resolve(file))) {
            reportCached(snapshot, file);
            return true;
        }
        FileMeta meta = head(repo, commit, file, required);
        if (meta == null) {
            return false;
        }
        fetch(repo, repoDir, snapshot, meta);
        return true;
    }

    private void reportCached(Path snapshot, String file) {
        try {
            long size = Files.size(snapshot.resolve(file));
            listener.onProgress(file, size, size);
        } catch (IOException e) {
            // only progress reporting
        }
    }

    // ---------------------------------------------------------------- metadata

    /** HEAD of a file's resolve URL; {@code null} for an optional file that does not exist. */
    private FileMeta head(RepoId repo, String revision, String file, boolean required) {
        URI start = resolveUrl(repo, revision, file);
        IOException lastError = null;
        RetryableStatus lastStatus = null;
        for (int attempt = 1; attempt <= opts.maxAttempts(); attempt++) {
            if (attempt > 1) {
                pause(attempt, start);
            }
            try {
                return headOnce(repo, file, required, start);
            } catch (IOException e) {
                lastError = e;
                lastStatus = null;
            } catch (RetryableStatus e) {
                lastStatus = e;
                lastError = null;
            }
        }
        throw failedAfterRetries(repo, file, start, lastError, lastStatus);
    }

    private FileMeta headOnce(RepoId repo, String file, boolean required, URI start)
            throws IOException, RetryableStatus {
        URI uri = start;
        String commit = null;
        String linkedEtag = null;
        long linkedSize = -1;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<Void> resp = send(request(uri, "HEAD", -1), HttpResponse.BodyHandlers.discarding());
            HttpHeaders h = resp.headers();
            if (commit == null) {
                commit = h.firstValue("X-Repo-Commit").map(String::strip).orElse(null);
            }
            if (linkedEtag == null) {
                linkedEtag = h.firstValue("X-Linked-Etag").orElse(null);
            }
            if (linkedSize < 0) {
                linkedSize = parseLong(h.firstValue("X-Linked-Size").orElse(null));
            }
            int status = resp.statusCode();
            if (isRedirect(status)) {
                URI next = location(uri, h);
                if (sameOrigin(next, uri)) {
                    uri = next;
                    continue;
                }
                // A redirect to another host (the CDN): the metadata is on this response; download from there.
                return meta(repo, file, commit, linkedEtag, h, linkedSize, -1, start);
            }
            if (status >= 200 && status < 300) {
                long length = parseLong(h.firstValue("Content-Length").orElse(null));
                return meta(repo, file, commit, linkedEtag, h, linkedSize, length, start);
            }
            if (status == 404 && !required && !isRepoLevelError(h)) {
                return null;
            }
            throw statusError(repo, file, uri, status, h);
        }
        throw new HubException(
                HubException.Reason.NETWORK, "too many redirects (more than " + MAX_REDIRECTS + ") for " + start);
    }

    private FileMeta meta(
            RepoId repo,
            String file,
            String commit,
            String linkedEtag,
            HttpHeaders last,
            long linkedSize,
            long contentLength,
            URI url) {
        String etag = normalizeEtag(
                linkedEtag != null ? linkedEtag : last.firstValue("ETag").orElse(null));
        if (etag == null) {
            throw new HubException(
                    HubException.Reason.NETWORK,
                    "the server sent no ETag for " + file + " of " + repo + " (" + url
                            + "), so it cannot be stored in the cache");
        }
        if (!HubCache.isSafeName(etag)) {
            throw new HubException(
                    HubException.Reason.NETWORK,
                    "the server sent an unusable ETag '" + etag + "' for " + file + " of " + repo);
        }
        long size = linkedSize >= 0 ? linkedSize : contentLength;
        return new FileMeta(file, commit, etag, size, url);
    }

    static String normalizeEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e.isEmpty() ? null : e;
    }

    // ---------------------------------------------------------------- content

    /** Puts the blob for {@code meta} in the cache (downloading it unless present) and links it into the snapshot. */
    private void fetch(RepoId repo, Path repoDir, Path snapshot, FileMeta meta) {
        Path blobs = repoDir.resolve("blobs");
        Path blob = blobs.resolve(meta.etag());
        if (blobUsable(blob, meta.size())) {
            HubCache.link(snapshot, meta.file(), blob, false);
            listener.onProgress(meta.file(), sizeOf(blob), sizeOf(blob));
            return;
        }
        Path lockDir = HubCache.lockDir(cacheRoot, repo);
        Path lockFile = lockDir.resolve(meta.etag() + ".lock");
        Path incomplete = blobs.resolve(meta.etag() + ".incomplete");
        try {
            Files.createDirectories(blobs);
            Files.createDirectories(lockDir);
        } catch (IOException e) {
            throw new HubException(HubException.Reason.IO, "cannot create " + blobs + ": " + e.getMessage(), e);
        }
        try (FileChannel lockChannel =
                FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = acquire(lockChannel, lockFile, incomplete, meta);
            try {
                if (blobUsable(blob, meta.size())) {
                    HubCache.link(snapshot, meta.file(), blob, false);
                    listener.onProgress(meta.file(), sizeOf(blob), sizeOf(blob));
                    return;
                }
                downloadBlob(repo, meta, incomplete);
                HubCache.moveReplacing(incomplete, blob);
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new HubException(
                    HubException.Reason.IO,
                    "cannot write " + meta.file() + " of " + repo + " into " + blobs + ": " + e.getMessage(),
                    e);
        }
        HubCache.link(snapshot, meta.file(), blob, true);
    }

    private static boolean blobUsable(Path blob, long expectedSize) {
        if (!Files.isRegularFile(blob)) {
            return false;
        }
        return expectedSize < 0 || sizeOf(blob) == expectedSize;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Takes the per-blob lock (huggingface_hub keeps them in {@code .locks/}). Another process holding it is
     * waited for as long as its {@code .incomplete} file grows; a holder that makes no progress for the
     * read timeout (at least 30 s) is an error.
     */
    private FileLock acquire(FileChannel channel, Path lockFile, Path incomplete, FileMeta meta) throws IOException {
        long stallLimit =
                Math.max(TimeUnit.SECONDS.toNanos(30), opts.readTimeout().toNanos());
        long lastSize = sizeOf(incomplete);
        long lastChange = System.nanoTime();
        while (true) {
            try {
                FileLock lock = channel.tryLock();
                if (lock != null) {
                    return lock;
                }
            } catch (OverlappingFileLockException e) {
                // another thread of this JVM holds it
            }
            long size = sizeOf(incomplete);
            long now = System.nanoTime();
            if (size != lastSize) {
                lastSize = size;
                lastChange = now;
            } else if (now - lastChange > stallLimit) {
                throw new HubException(
                        HubException.Reason.IO,
                        "another download of " + meta.file() + " holds " + lockFile + " and made no progress for "
                                + TimeUnit.NANOSECONDS.toSeconds(now - lastChange) + " s");
            }
            sleep(100, lockFile.toUri());
        }
    }

    /** Downloads into {@code incomplete}, resuming what is there; verifies size and sha256. */
    private void downloadBlob(RepoId repo, FileMeta meta, Path incomplete) throws IOException {
        MessageDigest digest = sha256();
        long digested = 0;
        long expected = meta.size();
        String file = meta.file();
        URI url = meta.url();
        String failure = null;
        Throwable cause = null;
        boolean complete = false;

        try (FileChannel out = FileChannel.open(
                incomplete, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            for (int attempt = 1; attempt <= opts.maxAttempts() && !complete; attempt++) {
                if (attempt > 1) {
                    pause(attempt, url);
                }
                long have = out.size();
                if (expected >= 0 && have > expected) {
                    out.truncate(0);
                    have = 0;
                }
                if (digested != have) {
                    digest.reset();
                    digested = hashPrefix(out, have, digest);
                }
                streamedTo = digested;
                if (expected >= 0 && have == expected && have > 0) {
                    complete = true;
                    break;
                }
                listener.onProgress(file, have, expected);
                try {
                    HttpResponse<InputStream> resp = openContent(repo, file, url, have);
                    int status = resp.statusCode();
                    long bodyStart;
                    if (status == 206) {
                        Matcher m = CONTENT_RANGE.matcher(
                                resp.headers().firstValue("Content-Range").orElse(""));
                        if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                            // Not the range we asked for: start over.
                            closeQuietly(resp.body());
                            out.truncate(0);
                            digest.reset();
                            digested = 0;
                            failure = "the server answered a range request for " + file
                                    + " with an unexpected Content-Range";
                            continue;
                        }
                        if (expected < 0 && !m.group(3).equals("*")) {
                            expected = Long.parseLong(m.group(3));
                        }
                        bodyStart = have;
                    } else if (status == 416) {
                        // Our partial file is not a prefix the server recognises: start over.
                        closeQuietly(resp.body());
                        out.truncate(0);
                        digest.reset();
                        digested = 0;
                        failure = "the server rejected resuming " + file + " at byte " + have;
                        continue;
                    } else {
                        // 200: a full body, also when the server ignored our Range header.
                        if (have > 0) {
                            out.truncate(0);
                            digest.reset();
                            digested = 0;
                        }
                        bodyStart = 0;
                        if (expected < 0) {
                            expected = parseLong(
                                    resp.headers().firstValue("Content-Length").orElse(null));
                        }
                    }
                    long done = copy(resp.body(), out, bodyStart, digest, file, expected);
                    digested = done;
                    if (expected >= 0 && done < expected) {
                        failure = "transfer of " + file + " ended after " + done + " of " + expected + " bytes";
                        continue;
                    }
                    if (expected >= 0 && done > expected) {
                        out.truncate(0);
                        throw new HubException(
                                HubException.Reason.INTEGRITY,
                                "size mismatch for " + file + " of " + repo + " from " + url + ": expected " + expected
                                        + " bytes, received " + done);
                    }
                    complete = true;
                } catch (IOException e) {
                    digested = streamedTo;
                    failure = stalled
                            ? "no data for " + opts.readTimeout().toSeconds() + " s while downloading " + file
                            : "transfer of " + file + " failed: " + describe(e);
                    cause = e;
                } catch (RetryableStatus e) {
                    failure = e.getMessage();
                    cause = e;
                }
            }
            if (!complete) {
                throw new HubException(
                        HubException.Reason.NETWORK,
                        "cannot download " + file + " of " + repo + " from " + url
                                + " after " + opts.maxAttempts() + " attempts: " + failure
                                + " (the partial file " + incomplete + " is kept and will be resumed)",
                        cause);
            }
            long size = out.size();
            if (expected >= 0 && size != expected) {
                out.truncate(0);
                throw new HubException(
                        HubException.Reason.INTEGRITY,
                        "size mismatch for " + file + " of " + repo + " from " + url + ": expected " + expected
                                + " bytes, got " + size);
            }
            if (SHA256.matcher(meta.etag()).matches()) {
                if (digested != size) {
                    digest.reset();
                    hashPrefix(out, size, digest);
                }
                String actual = HexFormat.of().formatHex(digest.digest());
                if (!actual.equals(meta.etag())) {
                    out.truncate(0);
                    throw new HubException(
                            HubException.Reason.INTEGRITY,
                            "checksum mismatch for " + file + " of " + repo
                                    + " downloaded from " + url + ": expected sha256 " + meta.etag() + ", got " + actual
                                    + "; the corrupt download was deleted");
                }
            }
            out.force(false);
        } catch (HubException e) {
            if (e.reason() == HubException.Reason.INTEGRITY) {
                Files.deleteIfExists(incomplete);
            }
            throw e;
        }
        listener.onProgress(file, Files.size(incomplete), Files.size(incomplete));
    }

    /** GET of the content, following redirects; a 2xx or 416 response with its body stream. */
    private HttpResponse<InputStream> openContent(RepoId repo, String file, URI start, long rangeStart)
            throws IOException, RetryableStatus {
        URI uri = start;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<InputStream> resp =
                    send(request(uri, "GET", rangeStart), HttpResponse.BodyHandlers.ofInputStream());
            int status = resp.statusCode();
            if (isRedirect(status)) {
                closeQuietly(resp.body());
                uri = location(uri, resp.headers());
                continue;
            }
            if ((status >= 200 && status < 300) || status == 416) {
                return resp;
            }
            closeQuietly(resp.body());
            if (!sameOrigin(uri, endpoint) && status != 408 && status != 429 && status < 500) {
                // The CDN refused (an expired or bad signed URL): name the Hub URL, not the signed one.
                throw new HubException(
                        HubException.Reason.NETWORK,
                        "HTTP " + status + " from " + uri.getScheme() + "://" + uri.getAuthority() + " for " + file
                                + " of " + repo.id() + " (redirected from " + start + ")");
            }
            throw statusError(repo, file, uri, status, resp.headers());
        }
        throw new HubException(
                HubException.Reason.NETWORK, "too many redirects (more than " + MAX_REDIRECTS + ") for " + start);
    }

    private long copy(InputStream in, FileChannel out, long position, MessageDigest digest, String file, long expected)
            throws IOException {
        byte[] buf = new byte[BUFFER];
        long done = position;
        long reported = position;
        out.truncate(position);
        out.position(position);
        lastByteNanos = System.nanoTime();
        stalled = false;
        streaming = true;
        streamedTo = position;
        try (in) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                lastByteNanos = System.nanoTime();
                if (n == 0) {
                    continue;
                }
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
                digest.update(buf, 0, n);
                done += n;
                streamedTo = done;
                if (done - reported >= PROGRESS_STEP) {
                    listener.onProgress(file, done, expected);
                    reported = done;
                }
                if (expected >= 0 && done > expected) {
                    break;
                }
            }
        } finally {
            streaming = false;
        }
        if (stalled) {
            throw new IOException("stalled");
        }
        return done;
    }

    private static long hashPrefix(FileChannel ch, long length, MessageDigest digest) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(BUFFER);
        long pos = 0;
        while (pos < length) {
            buf.clear();
            buf.limit((int) Math.min(BUFFER, length - pos));
            int n = ch.read(buf, pos);
            if (n < 0) {
                break;
            }
            buf.flip();
            digest.update(buf);
            pos += n;
        }
        return pos;
    }

    /** Aborts a transfer that has produced no byte for the read timeout. */
    private void checkStall() {
        if (streaming && System.nanoTime() - lastByteNanos > opts.readTimeout().toNanos()) {
            stalled = true;
            HttpClient c = client;
            client = null;
            if (c != null) {
                c.shutdownNow();
            }
        }
    }

    // ---------------------------------------------------------------- HTTP

    private synchronized HttpClient client() {
        if (client == null) {
            client = HttpClient.newBuilder()
                    .connectTimeout(opts.connectTimeout())
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .version(
                            "https".equalsIgnoreCase(endpoint.getScheme())
                                    ? HttpClient.Version.HTTP_2
                                    : HttpClient.Version.HTTP_1_1)
                    .build();
        }
        return client;
    }

    private void closeClient() {
        HttpClient c = client;
        client = null;
        if (c != null) {
            c.shutdownNow();
        }
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        try {
            return client().send(request, handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(HubException.Reason.NETWORK, "interrupted while requesting " + request.uri(), e);
        }
    }

    private HttpRequest request(URI uri, String method, long rangeStart) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(opts.readTimeout())
                .header("User-Agent", USER_AGENT)
                .header("Accept-Encoding", "identity")
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (rangeStart > 0) {
            b.header("Range", "bytes=" + rangeStart + "-");
        }
        // The token goes to the Hub only, never to a CDN host it redirects to.
        if (token != null && sameOrigin(uri, endpoint)) {
            b.header("Authorization", "Bearer " + token);
        }
        return b.build();
    }

    private URI resolveUrl(RepoId repo, String revision, String file) {
        StringBuilder path = new StringBuilder();
        for (String segment : file.split("/")) {
            path.append('/').append(encode(segment));
        }
        String base = endpoint.toString();
        return URI.create(base + "/" + repo.org() + "/" + repo.name() + "/resolve/" + encode(revision) + path);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static URI location(URI current, HttpHeaders h) {
        String loc = h.firstValue("Location").orElse(null);
        if (loc == null || loc.isBlank()) {
            throw new HubException(HubException.Reason.NETWORK, "redirect without a Location header from " + current);
        }
        try {
            URI next = current.resolve(loc.strip());
            String scheme = next.getScheme();
            if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
                throw new HubException(
                        HubException.Reason.NETWORK, "redirect to an unsupported URL '" + loc + "' from " + current);
            }
            return next;
        } catch (IllegalArgumentException e) {
            throw new HubException(
                    HubException.Reason.NETWORK, "redirect to an invalid URL '" + loc + "' from " + current, e);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null
                && a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static boolean isRepoLevelError(HttpHeaders h) {
        String code = h.firstValue("X-Error-Code").orElse("");
        return code.equals("RepositoryNotFound") || code.equals("RevisionNotFound") || code.equals("GatedRepo");
    }

    /** A HubException for a final non-2xx status, or a RetryableStatus for a transient one. */
    private HubException statusError(RepoId repo, String file, URI uri, int status, HttpHeaders h)
            throws RetryableStatus {
        if (status == 408 || status == 429 || status >= 500) {
            throw new RetryableStatus(status, uri);
        }
        String code = h.firstValue("X-Error-Code").orElse("");
        String serverMessage =
                h.firstValue("X-Error-Message").map(m -> " Server says: " + m).orElse("");
        String repoUrl = endpoint + "/" + repo.id();
        if (status == 401) {
            if (token == null) {
                return new HubException(
                        HubException.Reason.AUTHENTICATION,
                        "repository " + repo.id()
                                + " requires authentication (HTTP 401 for " + uri
                                + "): set HF_TOKEN to a Hugging Face access token"
                                + " that can read it. (The Hub also answers 401 for repositories that do not exist: check the id.)"
                                + serverMessage);
            }
            return new HubException(
                    HubException.Reason.AUTHENTICATION,
                    "the token (HF_TOKEN) was rejected for repository " + repo.id() + " (HTTP 401 for " + uri
                            + "): check that it is valid and can read the repository, and that the id is right."
                            + serverMessage);
        }
        if (status == 403) {
            return new HubException(
                    HubException.Reason.AUTHENTICATION,
                    "access to repository " + repo.id() + " is forbidden (HTTP 403 for "
                            + uri + "): if it is gated, accept its conditions at " + repoUrl
                            + " and set HF_TOKEN to a token of that account"
                            + (token == null ? " (no HF_TOKEN is set)" : "") + "." + serverMessage);
        }
        if (status == 404) {
            if (code.equals("RepositoryNotFound")) {
                return new HubException(
                        HubException.Reason.REPO_NOT_FOUND,
                        "repository " + repo.id() + " not found at " + endpoint + " (HTTP 404 for " + uri + ")"
                                + (token == null ? "; if it is private, set HF_TOKEN" : "") + "." + serverMessage);
            }
            if (code.equals("RevisionNotFound")) {
                return new HubException(
                        HubException.Reason.REPO_NOT_FOUND,
                        "revision '" + repo.effectiveRevision() + "' of repository " + repo.id()
                                + " not found (HTTP 404 for " + uri + ")." + serverMessage);
            }
            return new HubException(
                    HubException.Reason.FILE_NOT_FOUND,
                    "required file " + file + " not found in repository " + repo.id() + " at revision "
                            + repo.effectiveRevision() + " (HTTP 404 for " + uri + ")." + serverMessage);
        }
        return new HubException(
                HubException.Reason.NETWORK,
                "HTTP " + status + " for " + file + " of " + repo.id() + " from " + uri + "." + serverMessage);
    }

    private HubException failedAfterRetries(
            RepoId repo, String file, URI uri, IOException error, RetryableStatus status) {
        String why = error != null ? describe(error) : status.getMessage();
        return new HubException(
                HubException.Reason.NETWORK,
                "cannot fetch " + file + " of " + repo + " from " + uri + " after " + opts.maxAttempts() + " attempts: "
                        + why,
                error != null ? error : status);
    }

    private static String describe(IOException e) {
        StringBuilder sb = new StringBuilder();
        Throwable t = e;
        for (int depth = 0; t != null && depth < 4; depth++, t = t.getCause()) {
            if (depth > 0) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getSimpleName());
            String msg = t.getMessage();
            if (msg != null && !msg.isBlank()) {
                sb.append(": ").append(msg);
                break;
            }
        }
        return sb.toString();
    }

    private void pause(int attempt, URI uri) {
        long millis = opts.retryBackoff().toMillis() * (attempt - 1);
        sleep(Math.min(millis, 30_000), uri);
    }

    private static void sleep(long millis, URI uri) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(HubException.Reason.NETWORK, "interrupted while waiting to retry " + uri, e);
        }
    }

    private static long parseLong(String s) {
        if (s == null) {
            return -1;
        }
        try {
            long v = Long.parseLong(s.strip());
            return v < 0 ? -1 : v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            if (in != null) {
                in.close();
            }
        } catch (IOException e) {
            // nothing to do
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    private static URI parseEndpoint(String endpoint) {
        try {
            URI uri = URI.create(endpoint);
            String scheme = uri.getScheme();
            if (scheme == null
                    || uri.getHost() == null
                    || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
                throw new IllegalArgumentException("not an http(s) URL with a host");
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw new HubException(
                    HubException.Reason.NETWORK,
                    "invalid Hub endpoint '" + endpoint + "' (HF_ENDPOINT): " + e.getMessage(),
                    e);
        }
    }
}
