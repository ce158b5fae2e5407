package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzz targets (Jazzer) for what users type: chat template rendering and tokenizer input. Every build
 * replays the seed corpus ({@code src/test/resources/.../TokenizerFuzzTestInputs/<target>/}); {@code JAZZER_FUZZ=1}
 * fuzzes one target (tools/FUZZING.md). The contract: a result, or a {@link TokenizerException} naming the problem.
 */
class TokenizerFuzzTest {

    private static final Tokenizer TOKENIZER = Tokenizer.fromDirectory(Fixtures.tokenizerDir());
    private static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** A template (fuzzed, or ChatML) rendering fuzzed messages. */
    @FuzzTest(maxDuration = "30s")
    void chatTemplate(FuzzedDataProvider data) {
        boolean ownTemplate = data.consumeBoolean();
        boolean generationPrompt = data.consumeBoolean();
        List<ChatMessage> messages = new ArrayList<>();
        int n = data.consumeInt(0, 4);
        for (int i = 0; i < n; i++) {
            messages.add(new ChatMessage(data.consumeString(12), data.consumeString(64)));
        }
        String source = ownTemplate ? data.consumeRemainingAsString() : CHATML;
        String out;
        try {
            out = ChatTemplate.of(source).render(messages, generationPrompt);
        } catch (TokenizerException expected) {
            return;
        }
        if (!ownTemplate) {
            // ChatML shows every message whole, whatever it holds (control characters included).
            for (ChatMessage m : messages) {
                assertTrue(out.contains(m.content()), "lost content: " + m.content());
            }
        }
    }

    /** Any text encodes to ids in the vocabulary; they stream to the same text as a whole decode; any ids decode. */
    @FuzzTest(maxDuration = "30s")
    void tokenizerInput(FuzzedDataProvider data) {
        boolean special = data.consumeBoolean();
        int[] extra = data.consumeInts(4);
        String text = data.consumeRemainingAsString();
        int[] ids = TOKENIZER.encode(text, special);
        StreamingDecoder stream = TOKENIZER.streamingDecoder(false);
        StringBuilder pieces = new StringBuilder();
        for (int id : ids) {
            assertTrue(id >= 0 && id < TOKENIZER.vocabSize(), "id " + id);
            pieces.append(stream.push(id));
        }
        pieces.append(stream.flush());
        assertEquals(TOKENIZER.decode(ids, false), pieces.toString());
        for (int i = 0; i < extra.length; i++) {
            extra[i] = extra[i] & Integer.MAX_VALUE; // any non-negative id, known to the tokenizer or not
        }
        TOKENIZER.decode(extra, false);
        TOKENIZER.decode(extra, true);
    }
}
