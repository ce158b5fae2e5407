package io.falconmamba.loader.gguf;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one table between the Hugging Face tensor names the engine asks for and the names llama.cpp writes for
 * architecture {@code mamba}.
 */
public final class MambaTensorNames {

    private static final Pattern LAYER = Pattern.compile("backbone\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    /** Per-layer suffixes: Hugging Face, then GGUF. */
    private static final String[][] LAYER_NAMES = {
        {"norm.weight", "attn_norm.weight"},
        {"mixer.in_proj.weight", "ssm_in.weight"},
        {"mixer.in_proj.bias", "ssm_in.bias"},
        {"mixer.conv1d.weight", "ssm_conv1d.weight"},
        {"mixer.conv1d.bias", "ssm_conv1d.bias"},
        {"mixer.x_proj.weight", "ssm_x.weight"},
        {"mixer.dt_proj.weight", "ssm_dt.weight"},
        {"mixer.dt_proj.bias", "ssm_dt.bias"},
        {"mixer.A_log", "ssm_a"},
        {"mixer.D", "ssm_d"},
        {"mixer.out_proj.weight", "ssm_out.weight"},
        {"mixer.out_proj.bias", "ssm_out.bias"},
    };

    private static final String[][] GLOBAL_NAMES = {
        {"backbone.embeddings.weight", "token_embd.weight"},
        {"backbone.norm_f.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
    };

    private MambaTensorNames() {}

    /** The GGUF name of a Hugging Face tensor name, or {@code null} when the table has none. */
    public static String toGguf(String hf) {
        for (String[] g : GLOBAL_NAMES) {
            if (g[0].equals(hf)) {
                return g[1];
            }
        }
        Matcher m = LAYER.matcher(hf);
        if (m.matches()) {
            for (String[] l : LAYER_NAMES) {
                if (l[0].equals(m.group(2))) {
                    return "blk." + m.group(1) + "." + l[1];
                }
            }
        }
        return null;
    }

    /** The Hugging Face name of a GGUF tensor name, or {@code null} when the table has none. */
    public static String toHuggingFace(String gguf) {
        for (String[] g : GLOBAL_NAMES) {
            if (g[1].equals(gguf)) {
                return g[0];
            }
        }
        Matcher m = BLOCK.matcher(gguf);
        if (m.matches()) {
            for (String[] l : LAYER_NAMES) {
                if (l[1].equals(m.group(2))) {
                    return "backbone.layers." + m.group(1) + "." + l[0];
                }
            }
        }
        return null;
    }

    /** Whether a Hugging Face name is the state decay, stored as A_log by Hugging Face and as A by GGUF. */
    static boolean isALog(String hf) {
        return hf.endsWith(".mixer.A_log");
    }
}
