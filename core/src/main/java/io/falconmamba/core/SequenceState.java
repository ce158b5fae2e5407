package io.falconmamba.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Everything one sequence remembers of its past: per layer the conv window ({@code (k-1) × d_in}, oldest
 * input first) and the SSM state ({@code d_in × N}), float32, plus the logits and {@code norm_f} output of the
 * last position fed. Its size is fixed by the config, whatever the context length.
 *
 * <p>A state belongs to one sequence and is not thread-safe; different states may be used with one model
 * from different threads at once.
 */
public final class SequenceState {

    private static final int MAGIC = 0x464D5353; // "FMSS"
    private static final int FORMAT_VERSION = 1;

    final MambaConfig config;
    /** Per layer: conv window, time-major {@code (k-1) × d_in}. */
    final float[][] conv;
    /** Per layer: SSM state {@code d_in × N}. */
    final float[][] ssm;

    final float[] logits;
    final float[] hidden;
    long position;
    /** Scratch for the forward pass of this sequence; never copied or saved. */
    transient Workspace workspace;

    SequenceState(MambaConfig config) {
        this.config = config;
        int l = config.numLayers();
        int dIn = config.intermediateSize();
        conv = new float[l][(config.convKernel() - 1) * dIn];
        ssm = new float[l][dIn * config.stateSize()];
        logits = new float[config.vocabSize()];
        hidden = new float[config.hiddenSize()];
    }

    /** An independent copy (fork a conversation). */
    public SequenceState copy() {
        SequenceState c = new SequenceState(config);
        c.copyFrom(this);
        return c;
    }

    /** Makes this state equal to {@code other}, which must belong to a model of the same shape. */
    public void copyFrom(SequenceState other) {
        if (!other.config.equals(config)) {
            throw new IllegalArgumentException(
                    "cannot copy a state of a different model shape: " + other.config + " into " + config);
        }
        for (int l = 0; l < conv.length; l++) {
            System.arraycopy(other.conv[l], 0, conv[l], 0, conv[l].length);
            System.arraycopy(other.ssm[l], 0, ssm[l], 0, ssm[l].length);
        }
        System.arraycopy(other.logits, 0, logits, 0, logits.length);
        System.arraycopy(other.hidden, 0, hidden, 0, hidden.length);
        position = other.position;
    }

    /** Back to the empty sequence. */
    public void reset() {
        for (int l = 0; l < conv.length; l++) {
            Arrays.fill(conv[l], 0f);
            Arrays.fill(ssm[l], 0f);
        }
        Arrays.fill(logits, 0f);
        Arrays.fill(hidden, 0f);
        position = 0;
    }

    /** Logits of the last position fed ({@code vocab} floats); overwritten by the next forward call. */
    public float[] logits() {
        return logits;
    }

    /** Output of {@code norm_f} at the last position fed ({@code hidden_size} floats). */
    public float[] hidden() {
        return hidden;
    }

    /** Tokens fed since the last reset. */
    public long position() {
        return position;
    }

    /** Bytes this state holds in its recurrent part (conv windows and SSM states). */
    public long recurrentBytes() {
        return config.stateBytesPerSequence();
    }

    /** SSM state of layer {@code layer}: {@code d_in × N}, a copy. */
    public float[] ssmState(int layer) {
        return ssm[layer].clone();
    }

    /** Conv window of layer {@code layer} as {@code d_in × (k-1)}, oldest input first (Hugging Face's layout), a copy. */
    public float[] convState(int layer) {
        int dIn = config.intermediateSize();
        int hist = config.convKernel() - 1;
        float[] out = new float[dIn * hist];
        for (int j = 0; j < hist; j++) {
            for (int c = 0; c < dIn; c++) {
                out[c * hist + j] = conv[layer][j * dIn + c];
            }
        }
        return out;
    }

    /**
     * Serialises the state: a versioned header with the shape it belongs to, the position, then every
     * float (little-endian).
     */
    public byte[] toBytes() {
        long floats = (long) conv.length * (conv[0].length + ssm[0].length) + logits.length + hidden.length;
        long size = 4L * 11 + 8 + floats * 4;
        if (size > Integer.MAX_VALUE - 16) {
            throw new IllegalStateException("state of " + size + " bytes is too large for one byte array");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(FORMAT_VERSION);
        b.putInt(config.architecture().ordinal())
                .putInt(config.numLayers())
                .putInt(config.hiddenSize())
                .putInt(config.intermediateSize())
                .putInt(config.stateSize())
                .putInt(config.convKernel())
                .putInt(config.vocabSize())
                .putInt(config.timeStepRank())
                .putInt(0);
        b.putLong(position);
        for (int l = 0; l < conv.length; l++) {
            b.asFloatBuffer().put(conv[l]);
            b.position(b.position() + conv[l].length * 4);
            b.asFloatBuffer().put(ssm[l]);
            b.position(b.position() + ssm[l].length * 4);
        }
        b.asFloatBuffer().put(logits);
        b.position(b.position() + logits.length * 4);
        b.asFloatBuffer().put(hidden);
        return b.array();
    }

    /**
     * Reads bytes from {@link #toBytes()}, checking they belong to a model of shape {@code config} and hold only
     * finite values (NaN in a state would turn every later token into garbage).
     */
    static SequenceState fromBytes(byte[] bytes, MambaConfig config) {
        if (bytes == null) {
            throw new IllegalArgumentException("state bytes must not be null");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 52 || b.getInt() != MAGIC) {
            throw new IllegalArgumentException(
                    "not a falcon-mamba sequence state (bad magic or only " + bytes.length + " bytes)");
        }
        int version = b.getInt();
        if (version != FORMAT_VERSION) {
            throw new IllegalArgumentException(
                    "sequence state format version " + version + " is not supported (expected " + FORMAT_VERSION + ")");
        }
        int arch = b.getInt();
        expect("architecture", arch, config.architecture().ordinal());
        expect("num_hidden_layers", b.getInt(), config.numLayers());
        expect("hidden_size", b.getInt(), config.hiddenSize());
        expect("intermediate_size", b.getInt(), config.intermediateSize());
        expect("state_size", b.getInt(), config.stateSize());
        expect("conv_kernel", b.getInt(), config.convKernel());
        expect("vocab_size", b.getInt(), config.vocabSize());
        expect("time_step_rank", b.getInt(), config.timeStepRank());
        b.getInt();
        SequenceState s = new SequenceState(config);
        long expected = 52L
                + 4L
                        * ((long) s.conv.length * (s.conv[0].length + s.ssm[0].length)
                                + s.logits.length
                                + s.hidden.length);
        if (bytes.length != expected) {
            throw new IllegalArgumentException(
                    "sequence state has " + bytes.length + " bytes, expected " + expected + " for this model");
        }
        s.position = b.getLong();
        if (s.position < 0) {
            throw new IllegalArgumentException("sequence state has a negative position " + s.position);
        }
        for (int l = 0; l < s.conv.length; l++) {
            b.asFloatBuffer().get(s.conv[l]);
            b.position(b.position() + s.conv[l].length * 4);
            b.asFloatBuffer().get(s.ssm[l]);
            b.position(b.position() + s.ssm[l].length * 4);
        }
        b.asFloatBuffer().get(s.logits);
        b.position(b.position() + s.logits.length * 4);
        b.asFloatBuffer().get(s.hidden);
        for (int l = 0; l < s.conv.length; l++) {
            requireFinite(s.conv[l], "the conv window of layer " + l);
            requireFinite(s.ssm[l], "the SSM state of layer " + l);
        }
        requireFinite(s.logits, "the logits");
        requireFinite(s.hidden, "the norm_f output");
        return s;
    }

    private static void requireFinite(float[] values, String what) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException(
                        "sequence state is corrupt: " + what + " holds " + values[i] + " at index " + i);
            }
        }
    }

    private static void expect(String field, int got, int want) {
        if (got != want) {
            throw new IllegalArgumentException("sequence state belongs to a different model: " + field + " is " + got
                    + ", this model has " + want);
        }
    }
}
