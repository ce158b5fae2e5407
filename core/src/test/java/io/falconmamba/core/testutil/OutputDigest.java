package io.falconmamba.core.testutil;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.Quantization;
import io.falconmamba.core.SequenceState;
import java.util.zip.CRC32;

/**
 * A checksum of the exact bits a fixture model computes along every forward path: parallel prefill (70 tokens,
 * so both the tiled and the few-token matrix kernels run), chunked prefill (chunks of 12: the few-token kernels'
 * eight- and four-token passes, and the tokens left over), single decode and batch decode.
 * {@code DeterminismTest} runs it in an interpreted JVM and compares with a compiled one; {@link #main} is that
 * child's entry point and prints one line per model and quantization.
 */
public final class OutputDigest {

    private OutputDigest() {}

    public static String of(String model, Quantization quantization) {
        CRC32 crc = new CRC32();
        try (FalconMambaModel m = Fixtures.loadModel(model, 2, quantization)) {
            int vocab = m.config().vocabSize();
            int[] prompt = new int[70];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = (int) ((i * 7919L + 11) % vocab);
            }
            SequenceState parallel = m.newState();
            for (float[] row : m.prefillAllLogits(parallel, prompt, PrefillMode.PARALLEL)) {
                add(crc, row);
            }
            SequenceState chunked = m.newState();
            add(crc, m.prefill(chunked, prompt, PrefillMode.chunked(12)));
            for (int t = 0; t < 3; t++) {
                add(crc, m.decode(chunked, prompt[t]));
            }
            SequenceState[] batch = {parallel, chunked, m.newState()};
            for (int t = 0; t < 3; t++) {
                m.decodeBatch(batch, new int[] {prompt[t], prompt[t + 1], prompt[t + 2]}, batch.length);
                for (SequenceState s : batch) {
                    add(crc, s.logits());
                }
            }
        }
        return model + " " + quantization + " " + Long.toHexString(crc.getValue());
    }

    private static void add(CRC32 crc, float[] values) {
        for (float v : values) {
            int b = Float.floatToRawIntBits(v);
            crc.update(b);
            crc.update(b >>> 8);
            crc.update(b >>> 16);
            crc.update(b >>> 24);
        }
    }

    /**
     * The fixture models but the sharded copy (same weights): F32, BF16 and F16 weights, Falcon Mamba and
     * Mamba-1, odd sizes; Q8_0 on those whose widths it quantizes (multiples of 32).
     */
    public static String all() {
        StringBuilder out = new StringBuilder();
        for (String model : Fixtures.ALL_MODELS) {
            if (model.endsWith("-sharded")) {
                continue;
            }
            out.append(of(model, Quantization.NONE)).append('\n');
            if (Fixtures.MODELS.contains(model)) {
                out.append(of(model, Quantization.Q8_0)).append('\n');
            }
        }
        return out.toString();
    }

    public static void main(String[] args) {
        System.out.print(all());
    }
}
