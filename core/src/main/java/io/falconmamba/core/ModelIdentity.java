package io.falconmamba.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A model's identity for saved states: a hash of its config and of the table of tensors it reads (name, type,
 * shape, and the first and last bytes of each, so two fine-tunes of one architecture differ). A {@link WeightSource}
 * wrapper that records every tensor the model fetches; reading the table costs no pass over the weights.
 */
final class ModelIdentity implements WeightSource {

    /** Bytes of each tensor's start and end that enter the hash. */
    private static final int EDGE_BYTES = 32;

    private final WeightSource weights;
    private final MessageDigest digest;

    ModelIdentity(WeightSource weights, MambaConfig config) {
        this.weights = weights;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        update(config.toString());
    }

    @Override
    public boolean contains(String name) {
        return weights.contains(name);
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = weights.tensor(name);
        update(name + ":" + t.format() + ":" + java.util.Arrays.toString(t.shape()));
        MemorySegment data = t.data();
        long n = data.byteSize();
        long edge = Math.min(EDGE_BYTES, n);
        digest.update(data.asSlice(0, edge).toArray(ValueLayout.JAVA_BYTE));
        digest.update(data.asSlice(n - edge, edge).toArray(ValueLayout.JAVA_BYTE));
        return t;
    }

    @Override
    public void released(MemorySegment data) {
        weights.released(data);
    }

    /** The first 8 bytes of the hash of everything fetched so far. */
    long value() {
        byte[] h = digest.digest();
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (h[i] & 0xFF);
        }
        return v;
    }

    private void update(String s) {
        digest.update(s.getBytes(StandardCharsets.UTF_8));
        digest.update((byte) 0);
    }
}
