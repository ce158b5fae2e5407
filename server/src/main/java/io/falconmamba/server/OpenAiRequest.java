package io.falconmamba.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.FalconMamba;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.TokenizerException;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code /v1/chat/completions} or {@code /v1/completions} body turned into prompt ids and a
 * {@link GenerationConfig}. Settings a request leaves out come from the checkpoint's generation defaults; unknown
 * fields are ignored; a field of the wrong type or value is a 400 naming it.
 *
 * @param promptIds    the prompt as the model sees it (for chat: through the chat template, with the generation
 *                     prompt)
 * @param config       sampling, stop rules and length
 * @param stream       whether the reply streams as server-sent events
 * @param includeUsage whether a streamed reply ends with a usage chunk ({@code stream_options.include_usage})
 */
record OpenAiRequest(int[] promptIds, GenerationConfig config, boolean stream, boolean includeUsage) {

    /** OpenAI's limit on stop sequences. */
    private static final int MAX_STOPS = 4;

    static OpenAiRequest parse(JsonNode body, boolean chat, FalconMamba fm, String modelId) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid("the request body must be a JSON object", null);
        }
        JsonNode model = body.get("model");
        if (model != null && !model.isNull()) {
            if (!model.isTextual()) {
                throw ApiException.invalid("'model' must be a string", "model");
            }
            if (!model.asText().equals(modelId)) {
                throw new ApiException(
                        404,
                        "invalid_request_error",
                        "The model '" + model.asText() + "' does not exist; this server serves '" + modelId + "'",
                        "model",
                        "model_not_found");
            }
        }
        JsonNode n = body.get("n");
        if (present(n) && (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() != 1)) {
            throw ApiException.invalid("only n = 1 is supported, got " + n, "n");
        }
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (present(so)) {
            if (!so.isObject()) {
                throw ApiException.invalid("'stream_options' must be an object", "stream_options");
            }
            includeUsage = bool(so, "include_usage", false);
        }

        GenerationConfig config = config(body, fm.defaults());
        int[] ids;
        if (chat) {
            List<ChatMessage> messages = messages(body.get("messages"));
            try {
                ids = fm.tokenizer().encodeChat(messages, true);
            } catch (TokenizerException e) {
                throw ApiException.invalid(e.getMessage(), "messages");
            }
            config = fm.chatConfig(config);
        } else {
            ids = fm.encodePrompt(prompt(body.get("prompt")));
        }
        if (ids.length == 0) {
            throw ApiException.invalid(
                    "the prompt encodes to no tokens: give a non-empty prompt", chat ? "messages" : "prompt");
        }
        return new OpenAiRequest(ids, fm.samplable(config), stream, includeUsage);
    }

    private static GenerationConfig config(JsonNode body, GenerationConfig defaults) {
        GenerationConfig.Builder b = defaults.toBuilder();
        Integer maxTokens = integer(body, "max_completion_tokens");
        String maxParam = "max_completion_tokens";
        if (maxTokens == null) {
            maxTokens = integer(body, "max_tokens");
            maxParam = "max_tokens";
        }
        if (maxTokens != null) {
            if (maxTokens < 1) {
                throw ApiException.invalid("'" + maxParam + "' must be at least 1, got " + maxTokens, maxParam);
            }
            b.maxNewTokens(maxTokens);
        }
        Double temperature = number(body, "temperature");
        if (temperature != null) {
            if (!(temperature >= 0 && temperature <= 2)) {
                throw ApiException.invalid("'temperature' must be in [0, 2], got " + temperature, "temperature");
            }
            // temperature 0 is greedy, as OpenAI documents it; any other value samples.
            b.doSample(temperature > 0).temperature(temperature);
        }
        Double topP = number(body, "top_p");
        if (topP != null) {
            if (!(topP > 0 && topP <= 1)) {
                throw ApiException.invalid("'top_p' must be in (0, 1], got " + topP, "top_p");
            }
            b.topP(topP);
        }
        Integer topK = integer(body, "top_k");
        if (topK != null) {
            if (topK < 0) {
                throw ApiException.invalid("'top_k' must be >= 0 (0 = off), got " + topK, "top_k");
            }
            b.topK(topK);
        }
        Double minP = number(body, "min_p");
        if (minP != null) {
            if (!(minP >= 0 && minP <= 1)) {
                throw ApiException.invalid("'min_p' must be in [0, 1], got " + minP, "min_p");
            }
            b.minP(minP);
        }
        Double penalty = number(body, "repetition_penalty");
        if (penalty != null) {
            if (!(penalty > 0 && penalty <= 10)) {
                throw ApiException.invalid(
                        "'repetition_penalty' must be in (0, 10] (1 = off), got " + penalty, "repetition_penalty");
            }
            b.repetitionPenalty(penalty);
        }
        JsonNode seed = body.get("seed");
        if (present(seed)) {
            if (!seed.isIntegralNumber() || !seed.canConvertToLong()) {
                throw ApiException.invalid("'seed' must be an integer", "seed");
            }
            b.seed(seed.asLong());
        }
        List<String> stops = stops(body.get("stop"));
        if (stops != null) {
            List<String> all = new ArrayList<>(defaults.stopStrings());
            all.addAll(stops);
            b.stopStrings(all);
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(e.getMessage(), null);
        }
    }

    private static List<ChatMessage> messages(JsonNode node) {
        if (!present(node)) {
            throw ApiException.invalid("'messages' is required", "messages");
        }
        if (!node.isArray() || node.isEmpty()) {
            throw ApiException.invalid("'messages' must be a non-empty array", "messages");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode m = node.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiException.invalid("'" + where + "' must be an object", where);
            }
            JsonNode role = m.get("role");
            if (!present(role) || !role.isTextual() || role.asText().isEmpty()) {
                throw ApiException.invalid("'" + where + ".role' must be a non-empty string", where + ".role");
            }
            out.add(new ChatMessage(role.asText(), content(m.get("content"), where + ".content")));
        }
        return out;
    }

    /** A string, or OpenAI's list of content parts of which only text parts are accepted. */
    private static String content(JsonNode node, String where) {
        if (!present(node)) {
            return "";
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            StringBuilder text = new StringBuilder();
            for (JsonNode part : node) {
                JsonNode type = part.get("type");
                JsonNode t = part.get("text");
                if (!part.isObject() || type == null || !"text".equals(type.asText()) || t == null || !t.isTextual()) {
                    throw ApiException.invalid(
                            "'" + where + "' parts must be {\"type\": \"text\", \"text\": ...}", where);
                }
                text.append(t.asText());
            }
            return text.toString();
        }
        throw ApiException.invalid("'" + where + "' must be a string or a list of text parts", where);
    }

    private static String prompt(JsonNode node) {
        if (!present(node)) {
            throw ApiException.invalid("'prompt' is required", "prompt");
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray() && node.size() == 1 && node.get(0).isTextual()) {
            return node.get(0).asText();
        }
        throw ApiException.invalid("'prompt' must be a string (or a list of one string)", "prompt");
    }

    private static List<String> stops(JsonNode node) {
        if (!present(node)) {
            return null;
        }
        List<String> out = new ArrayList<>();
        if (node.isTextual()) {
            out.add(node.asText());
        } else if (node.isArray()) {
            for (JsonNode s : node) {
                if (!s.isTextual()) {
                    throw ApiException.invalid("'stop' must be a string or a list of strings", "stop");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid("'stop' must be a string or a list of strings", "stop");
        }
        if (out.size() > MAX_STOPS) {
            throw ApiException.invalid("'stop' takes at most " + MAX_STOPS + " strings, got " + out.size(), "stop");
        }
        for (String s : out) {
            if (s.isEmpty()) {
                throw ApiException.invalid("'stop' must not contain an empty string", "stop");
            }
        }
        return out;
    }

    private static boolean present(JsonNode n) {
        return n != null && !n.isNull();
    }

    private static boolean bool(JsonNode body, String field, boolean absent) {
        JsonNode n = body.get(field);
        if (!present(n)) {
            return absent;
        }
        if (!n.isBoolean()) {
            throw ApiException.invalid("'" + field + "' must be a boolean, got " + n, field);
        }
        return n.asBoolean();
    }

    private static Double number(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (!present(n)) {
            return null;
        }
        if (!n.isNumber()) {
            throw ApiException.invalid("'" + field + "' must be a number, got " + n, field);
        }
        return n.asDouble();
    }

    private static Integer integer(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (!present(n)) {
            return null;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw ApiException.invalid("'" + field + "' must be an integer, got " + n, field);
        }
        return n.asInt();
    }
}
