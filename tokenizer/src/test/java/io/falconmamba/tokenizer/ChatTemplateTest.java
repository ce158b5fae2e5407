package io.falconmamba.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {
    private static final List<ChatMessage> CHAT = List.of(
            ChatMessage.system("  Be brief.  "),
            ChatMessage.user("Hi"),
            ChatMessage.assistant("Hello."),
            ChatMessage.user("Bye"));

    @Test
    void controlCharactersInMessagesRenderVerbatim() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}[{{ m['content'] }}]{% endfor %}");
        String content = "a\u001Bb\u0001c\u007Fd\u00A0e\"f'g\\h\tx\ny\rz \uDBC0\uDC05 \uDBC0\uDC3F\uDBC0\uDC01 end";
        assertEquals("[" + content + "]", t.render(List.of(ChatMessage.user(content)), false));
    }

    @Test
    void rendersTheReferenceCasesFromBothPlaces() {
        JsonNode cases = Fixtures.reference().get("chat_template_cases");
        assertEquals(6, cases.size());
        // fixtures/tokenizer: separate chat_template.jinja (transformers 5); model folder: inline in
        // tokenizer_config.json (transformers 4).
        for (Path dir : List.of(Fixtures.tokenizerDir(), Fixtures.modelDir())) {
            try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
                assertTrue(t.chatTemplate().isPresent(), dir.toString());
                for (JsonNode c : cases) {
                    List<ChatMessage> messages = Fixtures.messages(c.get("messages"));
                    boolean gen = c.get("add_generation_prompt").asBoolean();
                    String text = t.applyChatTemplate(messages, gen);
                    assertEquals(c.get("text").asText(), text, dir + " " + c);
                    assertEquals(
                            c.get("text").asText(),
                            t.chatTemplate().orElseThrow().render(messages, gen));
                    assertArrayEquals(Fixtures.ints(c.get("ids")), t.encodeChat(messages, gen), dir + " ids " + c);
                    assertArrayEquals(Fixtures.ints(c.get("ids")), t.encode(text, false));
                }
            }
        }
    }

    @Test
    void separateJinjaFileAndInlineTemplateAreTheSame() throws Exception {
        try (Tokenizer a = Tokenizer.fromDirectory(Fixtures.tokenizerDir());
                Tokenizer b = Tokenizer.fromDirectory(Fixtures.modelDir())) {
            assertEquals(
                    Files.readString(Fixtures.tokenizerDir().resolve("chat_template.jinja")),
                    a.chatTemplate().orElseThrow().source());
            assertEquals(
                    a.chatTemplate().orElseThrow().source().strip(),
                    b.chatTemplate().orElseThrow().source().strip());
            assertEquals(Set.of("default"), b.chatTemplateNames());
            assertEquals(
                    "<|endoftext|>", a.chatTemplate().orElseThrow().variables().get("eos_token"));
        }
    }

    @Test
    void modelWithoutTemplate() {
        try (Tokenizer t = Tokenizer.fromDirectory(Fixtures.demoDir())) {
            assertTrue(t.chatTemplate().isEmpty());
            assertTrue(t.chatTemplateNames().isEmpty());
            TokenizerException e = assertThrows(
                    TokenizerException.class, () -> t.applyChatTemplate(List.of(ChatMessage.user("hi")), true));
            assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
            assertThrows(TokenizerException.class, () -> t.encodeChat(List.of(ChatMessage.user("hi")), true));
        }
    }

    @Test
    void huggingFaceHelpersAndWhitespaceControl() {
        // Written in the style of common instruct templates: bos_token, strip(), loop.last/first,
        // raise_exception on a bad role order, trim_blocks + lstrip_blocks on indented block tags.
        String src = """
        {{ bos_token }}
        {% for message in messages %}
            {% if message['role'] == 'system' %}
        [SYS]{{ message['content'].strip() }}[/SYS]
            {% elif message.role == 'user' %}
        [U]{{ message['content'] | trim }}{% if not loop.last %};{% endif %}

            {% elif message['role'] == 'assistant' %}
        [A]{{ message['content'].strip() + eos_token }}
            {% else %}
        {{ raise_exception('Unknown role: ' + message['role']) }}
            {% endif %}
        {% endfor %}
        {% if add_generation_prompt %}
        [A]
        {% endif %}""";
        ChatTemplate t = ChatTemplate.of(src, Map.of("bos_token", "<s>", "eos_token", "</s>"));
        assertEquals("<s>\n[SYS]Be brief.[/SYS]\n[U]Hi;\n[A]Hello.</s>\n[U]Bye\n[A]\n", t.render(CHAT, true));
        assertEquals("<s>\n[SYS]Be brief.[/SYS]\n[U]Hi;\n[A]Hello.</s>\n[U]Bye\n", t.render(CHAT, false));
        TokenizerException e =
                assertThrows(TokenizerException.class, () -> t.render(List.of(new ChatMessage("tool", "x")), false));
        assertTrue(
                e.getMessage().contains("raise_exception") && e.getMessage().contains("Unknown role: tool"),
                e.getMessage());
    }

    @Test
    void pythonStringMethods() {
        ChatTemplate t = ChatTemplate.of("""
        {%- set m = messages[0]['content'] -%}
        {{ m.strip() }}|{{ m.lstrip() }}|{{ m.rstrip() }}|{{ m.strip(' x') }}|{{ m.upper() }}|{{ m.lower() }}|\
        {{ m.strip().startswith('Hi') }}|{{ m.strip().endswith(('!', 'x')) }}|{{ m.split() | join(',') }}|\
        {{ 'a,b,,c'.split(',') | length }}|{{ m.replace('x', 'y') }}|{{ m.title() }}|{{ messages[0].get('nope', 'dflt') }}|\
        {% for k, v in messages[0].items() %}{{ k }}={{ v | length }};{% endfor %}|{{ '-'.join(['a', 'b']) }}""");
        assertEquals(
                "x Hi there x|x Hi there x |  x Hi there x|Hi there|  X HI THERE X |  x hi there x |"
                        + "False|True|x,Hi,there,x|4|  y Hi there y |  X Hi There X |dflt|role=4;content=15;|a-b",
                t.render(List.of(ChatMessage.user("  x Hi there x ")), false)
                        .replace("false", "False")
                        .replace("true", "True"));
    }

    @Test
    void messageContentIsNeverInterpreted() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}<{{ m.content }}>{% endfor %}");
        assertEquals("<{{ 7 * 7 }} {% if x %}>", t.render(List.of(ChatMessage.user("{{ 7 * 7 }} {% if x %}")), false));
    }

    @Test
    void namespaceLoopIndexAndGenerationTag() {
        ChatTemplate t = ChatTemplate.of("""
        {%- set ns = namespace(system='') -%}
        {%- for m in messages if m.role == 'system' %}{% set ns.system = m.content %}{% endfor -%}
        [{{ ns.system }}]
        {%- for m in messages if m.role != 'system' %}{{ loop.index0 }}:{% generation %}{{ m.content }}{% endgeneration %}{{ ',' if not loop.last }}{% endfor %}""");
        assertEquals("[  Be brief.  ]0:Hi,1:Hello.,2:Bye", t.render(CHAT, false));
    }

    @Test
    void reversedMessagesWithLoopFilter() {
        ChatTemplate t = ChatTemplate.of(
                "{%- for m in messages[::-1] if m.role == 'user' -%}{{ loop.index }}{{ m.content }}{{ '' if loop.last else ',' }}{%- endfor %}");
        assertEquals("1Bye,2Hi", t.render(CHAT, false));
    }

    @Test
    void namedTemplateListPicksDefault(@TempDir Path tmp) throws Exception {
        Path dir = Fixtures.copyTokenizerTo(tmp.resolve("m"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
        {"eos_token": "<|im_end|>", "chat_template": [
          {"name": "default", "template": "{% for m in messages %}D:{{ m.content }}{{ eos_token }}{% endfor %}"},
          {"name": "tool_use", "template": "T:{{ messages | length }}"}]}""");
        try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
            assertEquals(Set.of("default", "tool_use"), t.chatTemplateNames());
            assertEquals("D:hi<|im_end|>", t.applyChatTemplate(List.of(ChatMessage.user("hi")), false));
            assertEquals(
                    "T:1", t.chatTemplate("tool_use").orElseThrow().render(List.of(ChatMessage.user("hi")), false));
            assertEquals(OptionalIntOf(3), t.eosTokenId());
        }
        Files.writeString(dir.resolve("tokenizer_config.json"), """
        {"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]}""");
        try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
            TokenizerException e = assertThrows(
                    TokenizerException.class, () -> t.applyChatTemplate(List.of(ChatMessage.user("hi")), false));
            assertTrue(e.getMessage().contains("default") && e.getMessage().contains("[a, b]"), e.getMessage());
        }
    }

    private static java.util.OptionalInt OptionalIntOf(int v) {
        return java.util.OptionalInt.of(v);
    }

    @Test
    void jinjaFileWinsOverInlineAndChatTemplateJsonIsRead(@TempDir Path tmp) throws Exception {
        Path dir = Fixtures.copyTokenizerTo(tmp.resolve("m"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"inline\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "file");
        try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
            assertEquals("file", t.applyChatTemplate(List.of(), false));
        }
        Files.delete(dir.resolve("chat_template.jinja"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
        Files.writeString(dir.resolve("chat_template.json"), "{\"chat_template\": \"json {{ messages | length }}\"}");
        try (Tokenizer t = Tokenizer.fromDirectory(dir)) {
            assertEquals("json 0", t.applyChatTemplate(List.of(), false));
        }
    }

    @Test
    void brokenTemplatesFailClearly() {
        TokenizerException syntax = assertThrows(
                TokenizerException.class,
                () -> ChatTemplate.of("{% for m in messages %}{{ m.content }}").render(CHAT, false));
        assertTrue(syntax.getMessage().contains("chat template"), syntax.getMessage());
        assertTrue(syntax.getMessage().toLowerCase().contains("for"), syntax.getMessage());

        TokenizerException method = assertThrows(
                TokenizerException.class,
                () -> ChatTemplate.of("{{ messages[0].content.nosuchmethod() }}")
                        .render(CHAT, false));
        assertTrue(method.getMessage().contains("nosuchmethod"), method.getMessage());

        TokenizerException raised = assertThrows(
                TokenizerException.class,
                () -> ChatTemplate.of(
                                "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok")
                        .render(CHAT, false));
        assertTrue(raised.getMessage().contains("Conversation must start with user"), raised.getMessage());
        // After a failed render the same template still works.
        assertEquals(
                "ok",
                ChatTemplate.of("{% if messages[0].role != 'user' %}{{ raise_exception('x') }}{% endif %}ok")
                        .render(List.of(ChatMessage.user("u")), false));
    }
}
