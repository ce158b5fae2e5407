package io.falconmamba.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.time.ZonedDateTime;

/** Functions and tags that Hugging Face's chat-template environment adds to Jinja. */
final class JinjaSupport {
    private JinjaSupport() {}

    /** The message of the last raise_exception on this thread, while a render is under way. */
    static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    /** Thrown by raise_exception to stop the render. */
    static final class TemplateRaisedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TemplateRaisedException(String message) {
            super(message);
        }
    }

    static Object raiseException(String message) {
        RAISED.set(String.valueOf(message));
        throw new TemplateRaisedException(String.valueOf(message));
    }

    static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format);
    }

    /**
     * transformers' {@code {% generation %}...{% endgeneration %}} (marks assistant text for training
     * masks): renders its body unchanged.
     */
    static final class GenerationTag implements Tag {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
            }
            return sb.toString();
        }
    }
}
