package io.falconmamba.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face chat template (Jinja), rendered the way transformers renders it: {@code trim_blocks}
 * and {@code lstrip_blocks} on, with {@code messages}, {@code add_generation_prompt}, the special
 * tokens ({@code bos_token}, {@code eos_token}, ...), {@code raise_exception(msg)} and
 * {@code strftime_now(fmt)} in scope, and the Python string methods templates commonly call
 * ({@code .strip()}, {@code .startswith(...)}, {@code .split(...)}, ...).
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {

    /** The name of the template used when none is asked for. */
    public static final String DEFAULT_NAME = "default";

    private static final Jinjava ENGINE = newEngine();

    private final String name;
    private final String source;
    private final Map<String, Object> variables;
    private final String jinjavaSource; // source with the rewrites of TemplateRewriter

    ChatTemplate(String name, String source, Map<String, ?> variables) {
        this.name = Objects.requireNonNull(name, "name");
        this.source = Objects.requireNonNull(source, "source");
        this.variables = Collections.unmodifiableMap(new LinkedHashMap<>(variables));
        this.jinjavaSource = TemplateRewriter.rewrite(source);
    }

    /** A template from its Jinja source, with no special-token variables. */
    public static ChatTemplate of(String source) {
        return new ChatTemplate(DEFAULT_NAME, source, Map.of());
    }

    /**
     * A template from its Jinja source with variables always in scope (for example
     * {@code bos_token} and {@code eos_token}).
     */
    public static ChatTemplate of(String source, Map<String, ?> variables) {
        return new ChatTemplate(DEFAULT_NAME, source, variables);
    }

    public String name() {
        return name;
    }

    /** The Jinja source. */
    public String source() {
        return source;
    }

    /** The variables this template always sees (special tokens), besides the per-call ones. */
    public Map<String, Object> variables() {
        return variables;
    }

    /** Renders a conversation; {@code addGenerationPrompt} opens the assistant's turn at the end. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders a conversation with extra variables (for example {@code tools} or a
     * {@code system_message} a template reads).
     *
     * @throws TokenizerException if the template calls {@code raise_exception}, has a syntax error or
     *                            fails while rendering; the message names the construct and the reason
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extraVariables) {
        Objects.requireNonNull(messages, "messages");
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", ControlChars.hide(m.content()));
            msgs.add(map);
        }
        Map<String, Object> context = new HashMap<>(variables);
        context.putAll(extraVariables);
        context.put("messages", msgs);
        context.put("add_generation_prompt", addGenerationPrompt);

        RenderResult result;
        JinjaSupport.RAISED.remove();
        try {
            result = ENGINE.renderForResult(jinjavaSource, context);
        } catch (RuntimeException e) {
            throw raisedOr(new TokenizerException(
                    "chat template '" + name + "' failed: " + e.getClass().getSimpleName() + ": " + e.getMessage(), e));
        }
        String raised = JinjaSupport.RAISED.get();
        JinjaSupport.RAISED.remove();
        if (raised != null) {
            throw new TokenizerException(
                    "chat template '" + name + "' raised an exception (raise_exception): " + raised);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                StringBuilder sb =
                        new StringBuilder("chat template '").append(name).append("' failed");
                if (error.getLineno() > 0) {
                    sb.append(" at line ").append(error.getLineno());
                }
                if (error.getFieldName() != null && !error.getFieldName().isEmpty()) {
                    sb.append(" in `").append(error.getFieldName()).append('`');
                }
                sb.append(": ").append(error.getReason()).append(": ").append(error.getMessage());
                throw new TokenizerException(sb.toString(), error.getException());
            }
        }
        return ControlChars.restore(result.getOutput());
    }

    private static TokenizerException raisedOr(TokenizerException fallback) {
        String raised = JinjaSupport.RAISED.get();
        JinjaSupport.RAISED.remove();
        return raised == null
                ? fallback
                : new TokenizerException("chat template raised an exception (raise_exception): " + raised, fallback);
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + name + ", " + source.length() + " chars]";
    }

    private static Jinjava newEngine() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Message text is data: never interpret "{{" that a message contains.
                .withNestedInterpretationEnabled(false)
                .withFailOnUnknownTokens(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .withElResolver(new PythonMethodsResolver(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY))
                .build();
        Jinjava jinjava = new Jinjava(config);
        register(jinjava, "raise_exception", "raiseException", String.class);
        register(jinjava, "strftime_now", "strftimeNow", String.class);
        jinjava.getGlobalContext().registerTag(new JinjaSupport.GenerationTag());
        return jinjava;
    }

    private static void register(Jinjava jinjava, String fn, String method, Class<?>... params) {
        try {
            Method m = JinjaSupport.class.getDeclaredMethod(method, params);
            m.setAccessible(true);
            jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", fn, m));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }
}
