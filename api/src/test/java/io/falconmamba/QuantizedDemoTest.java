package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.FalconMambaModel;
import io.falconmamba.core.PrefillMode;
import io.falconmamba.core.Quantization;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The quality cost of Q8_0 / Q4_0 on the demo model (BF16, hidden 192, intermediate 384: every projection but
 * dt_proj, 12 columns, is quantized): perplexity over Genesis 1:1-20 (KJV, public domain; a text the demo has
 * seen in training, so its perplexity is low; what matters is the change) and the logit error against the
 * unquantized model at every position. Loading goes through {@link LoadOptions#withQuantization}.
 *
 * <p>Measured (566 tokens, 2 threads): unquantized perplexity 5.464; Q8_0 5.445 (-0.34 %), max |Δlogit| 0.43,
 * mean 0.049, greedy ids agree at 553/566 positions; Q4_0 7.387 (+35 %), max |Δlogit| 7.1, mean 0.76, greedy
 * agree 434/566. A 3 M-parameter model with 192-wide rows has little redundancy, so 4-bit blocks cost it far
 * more than they cost billion-parameter models. Asserted bounds: Q8_0 within 2 %, Q4_0 within 60 %: room for
 * noise, none for a bug (a mis-decoded block sends perplexity into the hundreds).
 */
class QuantizedDemoTest {

    record Figures(double perplexity, float[][] logits) {}

    static String genesis() throws IOException {
        try (InputStream in = QuantizedDemoTest.class.getResourceAsStream("/genesis-1-1-20-kjv.txt")) {
            assertNotNull(in);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static Figures measure(Quantization q, int[] ids) {
        try (FalconMamba fm = FalconMamba.load(
                TestModels.demo(), LoadOptions.defaults().withThreads(2).withQuantization(q))) {
            FalconMambaModel model = fm.model();
            assertEquals(q, model.quantization());
            float[][] logits = model.prefillAllLogits(model.newState(), ids, PrefillMode.chunked(64));
            double nll = 0;
            for (int t = 0; t + 1 < ids.length; t++) {
                float[] l = logits[t];
                double max = Double.NEGATIVE_INFINITY;
                for (float v : l) {
                    max = Math.max(max, v);
                }
                double sum = 0;
                for (float v : l) {
                    sum += Math.exp(v - max);
                }
                nll += max + Math.log(sum) - l[ids[t + 1]];
            }
            return new Figures(Math.exp(nll / (ids.length - 1)), logits);
        }
    }

    @Test
    void perplexityAndLogitErrorOnGenesis() throws IOException {
        int[] ids;
        try (FalconMamba fm = TestModels.load(TestModels.demo())) {
            ids = fm.tokenizer().encode(genesis(), false);
        }
        assertTrue(ids.length > 300, "tokens: " + ids.length);
        Figures base = measure(Quantization.NONE, ids);
        for (Quantization q : new Quantization[] {Quantization.Q8_0, Quantization.Q4_0}) {
            Figures f = measure(q, ids);
            double max = 0;
            double sum = 0;
            long n = 0;
            int agree = 0;
            for (int t = 0; t < ids.length; t++) {
                for (int i = 0; i < f.logits[t].length; i++) {
                    double e = Math.abs((double) f.logits[t][i] - base.logits[t][i]);
                    max = Math.max(max, e);
                    sum += e;
                    n++;
                }
                agree += argmax(f.logits[t]) == argmax(base.logits[t]) ? 1 : 0;
            }
            double change = f.perplexity / base.perplexity - 1;
            System.out.printf(
                    Locale.ROOT,
                    "demo-kjv %s: %d tokens, perplexity %.4f vs %.4f (%+.2f %%), max |Δlogit| %.4f, mean %.4f, greedy agree %d/%d%n",
                    q.label(),
                    ids.length,
                    f.perplexity,
                    base.perplexity,
                    100 * change,
                    max,
                    sum / n,
                    agree,
                    ids.length);
            double bound = q == Quantization.Q8_0 ? 0.02 : 0.60;
            assertTrue(Math.abs(change) <= bound, q + " perplexity changed by " + change);
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }
}
