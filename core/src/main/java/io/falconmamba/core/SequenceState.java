package io.falconmamba.core;

/** STUB: signatures only, the implementation lands shortly. */
public final class SequenceState {
    public SequenceState copy() { throw new UnsupportedOperationException("not yet"); }
    public void copyFrom(SequenceState other) { throw new UnsupportedOperationException("not yet"); }
    public void reset() { throw new UnsupportedOperationException("not yet"); }
    public byte[] toBytes() { throw new UnsupportedOperationException("not yet"); }
    /** Logits of the last position fed (vocab floats). */
    public float[] logits() { throw new UnsupportedOperationException("not yet"); }
    /** Tokens fed since the last reset. */
    public long position() { throw new UnsupportedOperationException("not yet"); }
}
