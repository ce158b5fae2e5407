package io.falconmamba.spark;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A row's sampling seed from the job's seed and the row's own key (its prompt, its messages or its seed column):
 * the same on every executor, JVM and retry, whatever the partitioning, and unrelated for neighbouring keys.
 */
final class RowSeeds {

    private RowSeeds() {}

    /** The first 8 bytes of SHA-256(seed, key): stable across JVMs, unlike {@link String#hashCode()} mixes. */
    static long of(long seed, String key) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK provides SHA-256", e);
        }
        sha.update(ByteBuffer.allocate(Long.BYTES).putLong(seed).array());
        sha.update(key.getBytes(StandardCharsets.UTF_8));
        return ByteBuffer.wrap(sha.digest()).getLong();
    }
}
