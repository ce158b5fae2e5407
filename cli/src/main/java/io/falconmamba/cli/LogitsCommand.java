package io.falconmamba.cli;

import io.falconmamba.Engine;
import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.loader.SafetensorsWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code logits}: every position's logits for given ids, as safetensors, to compare with other runtimes. */
@Command(
        name = "logits",
        mixinStandardHelpOptions = true,
        description =
                "Write the logits of every position for the given token ids as an F32 tensor 'logits' [T, vocab].")
final class LogitsCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @ArgGroup(exclusive = true, multiplicity = "1")
    IdsSource source;

    static final class IdsSource {
        @Option(names = "--ids", paramLabel = "IDS", description = "Token ids: 1,2,3.")
        String ids;

        @Option(names = "--ids-file", paramLabel = "FILE", description = "A file of token ids (commas or whitespace).")
        Path file;
    }

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .safetensors file.")
    Path out;

    @Option(
            names = "--prefill",
            paramLabel = "MODE",
            description = "parallel, chunked or chunked:C (default: parallel).")
    String prefill = "parallel";

    @Override
    public Integer call() {
        modelOptions.validate();
        PrefillMode mode = UsageException.check("--prefill", () -> PrefillMode.parse(prefill));
        int[] ids = source.ids != null ? Ids.parse(source.ids, "--ids") : Ids.readFile(source.file);
        // Ids in, logits out: no tokenizer needed, so weights-only checkpoints work too.
        try (Engine engine = modelOptions.loadEngine()) {
            FalconMambaModel model = engine.model();
            float[][] logits = model.prefillAllLogits(model.newState(), ids, mode);
            int vocab = model.config().vocabSize();
            float[] flat = new float[logits.length * vocab];
            for (int t = 0; t < logits.length; t++) {
                System.arraycopy(logits[t], 0, flat, t * vocab, vocab);
            }
            new SafetensorsWriter()
                    .metadata("format", "pt")
                    .metadata("input_ids", Ids.json(ids))
                    .metadata("prefill", mode.toString())
                    .addF32("logits", new long[] {logits.length, vocab}, flat)
                    .write(out);
            Progress.note("wrote logits [" + logits.length + ", " + vocab + "] to " + out);
        }
        return 0;
    }
}
