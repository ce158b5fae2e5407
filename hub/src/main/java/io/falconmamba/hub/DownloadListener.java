package io.falconmamba.hub;

/**
 * Progress of a Hub download, one file at a time. Called on the downloading thread: keep it cheap.
 * A file already in the cache is reported once with {@code bytesDone == totalBytes}. Resumed files start
 * at the bytes already on disk. Calls are throttled (about every 256 KiB) and the last call of a
 * completed file always has {@code bytesDone == totalBytes}.
 */
@FunctionalInterface
public interface DownloadListener {

    /** A listener that ignores everything. */
    DownloadListener NONE = (file, bytesDone, totalBytes) -> {};

    /**
     * @param file       the file's path in the repository, e.g. {@code model-00001-of-00004.safetensors}
     * @param bytesDone  bytes of this file on disk so far
     * @param totalBytes the file's size, or {@code -1} when the server did not say
     */
    void onProgress(String file, long bytesDone, long totalBytes);
}
