package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.StopReason;
import io.falconmamba.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The facade on the tiny golden fixtures: reference ids, stop rules, batch, chat, sessions, close. */
class FalconMambaFixtureTest {

    private static FalconMamba model;
    private static JsonNode reference;

    @BeforeAll
    static void load() {
        model = TestModels.load(TestModels.fixture("tiny-falcon-mamba"));
        reference = TestModels.json(TestModels.fixture("tiny-falcon-mamba").resolve("reference.json"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Greedy, {@code n} new tokens, no stop token. */
    private static GenerationConfig greedy(int n) {
        return model.defaults().toBuilder()
                .doSample(false)
                .maxNewTokens(n)
                .stopTokenIds(List.of())
                .build();
    }

    private static int[] seqInput(int s) {
        return TestModels.ints(reference.get("sequences").get(s).get("input_ids"));
    }

    private static int[] seqGenerated(int s) {
        return TestModels.ints(reference.get("sequences").get(s).get("generated_ids"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-falcon-mamba", "tiny-falcon-mamba-bf16", "tiny-falcon-mamba-sharded", "tiny-mamba"})
    void greedyIdsMatchTheReference(String name) {
        JsonNode ref = TestModels.json(TestModels.fixture(name).resolve("reference.json"));
        try (FalconMamba fm = TestModels.load(TestModels.fixture(name))) {
            assertEquals(Set.of(0), fm.defaults().stopTokenIds(), "eos from generation_config.json");
            GenerationConfig config = fm.defaults().toBuilder()
                    .doSample(false)
                    .maxNewTokens(20)
                    .stopTokenIds()
                    .build();
            for (JsonNode seq : ref.get("sequences")) {
                int[] input = TestModels.ints(seq.get("input_ids"));
                Completion c = fm.generateIds(input, config, null, null);
                assertArrayEquals(
                        TestModels.ints(seq.get("generated_ids")), c.ids(), name + " seq " + seq.get("index"));
                assertArrayEquals(input, c.promptIds());
                assertEquals(StopReason.LENGTH, c.stopReason());
                assertEquals(fm.tokenizer().decode(c.ids(), true), c.text());
            }
        }
    }

    @Test
    void stopStringEndsGenerationWithStopSequence() {
        int[] input = seqInput(1);
        Completion full = model.generateIds(input, greedy(20), null, null);
        String text = full.text();
        // A stop string that first occurs well inside the unstopped text: two characters of its middle.
        String stop = null;
        for (int i = text.length() / 3; i + 2 < text.length() - 3 && stop == null; i++) {
            String cand = text.substring(i, i + 2);
            if (!cand.isBlank() && cand.indexOf('\uFFFD') < 0) {
                stop = cand;
            }
        }
        assertTrue(stop != null, "no usable stop string in " + text);
        List<String> pieces = new ArrayList<>();
        Completion c = model.generateIds(
                input, greedy(20).toBuilder().stopStrings("\u0001never", stop).build(), pieces::add, null);
        assertEquals(StopReason.STOP_SEQUENCE, c.stopReason());
        assertTrue(c.text().contains(stop), c.text() + " should contain " + stop);
        assertTrue(c.text().length() < text.length());
        assertTrue(text.startsWith(c.text()), "the stopped text is a prefix of the unstopped one");
        assertArrayEquals(Arrays.copyOf(full.ids(), c.ids().length), c.ids());
        // It stopped at the first token whose text completes the match, not later.
        String before = model.tokenizer().decode(Arrays.copyOf(c.ids(), c.ids().length - 1), true);
        assertFalse(before.contains(stop), "should have stopped one token earlier: " + before);
        assertEquals(c.text(), String.join("", pieces));
    }

    @Test
    void stopStringOnATextPrompt() {
        Completion full = model.generate("Hello world", greedy(12));
        String stop =
                full.text().substring(full.text().length() / 2, full.text().length() / 2 + 1);
        Completion c = model.generate(
                "Hello world", greedy(12).toBuilder().stopStrings(stop).build());
        assertEquals(StopReason.STOP_SEQUENCE, c.stopReason(), full.text() + " / " + stop);
        assertTrue(c.text().contains(stop));
        assertTrue(c.ids().length <= full.ids().length);
    }

    @Test
    void stopTokenEndsGenerationWithEos() {
        int[] expected = seqGenerated(0);
        int k = 5;
        int stopId = expected[k];
        int first = 0;
        while (expected[first] != stopId) {
            first++;
        }
        Completion c = model.generateIds(
                seqInput(0), greedy(20).toBuilder().stopTokenIds(stopId).build(), null, null);
        assertEquals(StopReason.EOS, c.stopReason());
        assertArrayEquals(Arrays.copyOf(expected, first + 1), c.ids(), "stop token included, as transformers does");
        assertEquals(model.tokenizer().decode(c.ids(), true), c.text());
    }

    @Test
    void batchEqualsSingleGenerations() {
        List<String> prompts = List.of("Hello world", "The state space", "a");
        int[] greedyIds = model.generate(prompts.get(2), greedy(20)).ids();
        List<GenerationConfig> configs = List.of(
                greedy(20),
                model.defaults().toBuilder()
                        .doSample(true)
                        .temperature(0.9)
                        .topK(30)
                        .topP(0.95)
                        .seed(42)
                        .maxNewTokens(15)
                        .stopTokenIds()
                        .build(),
                greedy(20).toBuilder().stopTokenIds(greedyIds[3]).build());
        List<Completion> batch = model.generateBatch(prompts, configs);
        assertEquals(3, batch.size());
        for (int i = 0; i < 3; i++) {
            Completion single = model.generate(prompts.get(i), configs.get(i));
            assertArrayEquals(single.promptIds(), batch.get(i).promptIds(), "prompt " + i);
            assertArrayEquals(single.ids(), batch.get(i).ids(), "prompt " + i);
            assertEquals(single.text(), batch.get(i).text(), "prompt " + i);
            assertEquals(single.stopReason(), batch.get(i).stopReason(), "prompt " + i);
        }
        assertEquals(StopReason.EOS, batch.get(2).stopReason());
        assertEquals(15, batch.get(1).ids().length);

        // One config for all.
        List<Completion> same = model.generateBatch(prompts, greedy(8));
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(
                    model.generate(prompts.get(i), greedy(8)).ids(), same.get(i).ids());
        }
        assertThrows(IllegalArgumentException.class, () -> model.generateBatch(prompts, List.of(greedy(1))));
    }

    private static List<ChatMessage> messages(JsonNode array) {
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : array) {
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return out;
    }

    @Test
    void chatRendersThroughTheTemplate() {
        JsonNode cases = TestModels.json(TestModels.testRoot().resolve("fixtures/tokenizer-reference.json"))
                .get("chat_template_cases");
        int checked = 0;
        for (JsonNode cs : cases) {
            if (!cs.get("add_generation_prompt").asBoolean()) {
                continue;
            }
            List<ChatMessage> msgs = messages(cs.get("messages"));
            int[] ids = TestModels.ints(cs.get("ids"));
            Completion c = model.chat(msgs, greedy(10));
            assertArrayEquals(ids, c.promptIds(), cs.get("text").asText());
            assertArrayEquals(model.generateIds(ids, greedy(10), null, null).ids(), c.ids());
            checked++;
        }
        assertEquals(3, checked);
    }

    @Test
    void chatSessionTurnsFeedExactlyTheRenderedConversation() {
        // Short replies: this random-weight model soon emits control characters, which the chat template renderer
        // writes back escaped (see chatSessionStartsOverWhenTheRenderingRewritesAReply).
        GenerationConfig config = greedy(4);
        ChatSession s = model.newSession();
        s.addMessage(ChatMessage.system("You are terse."));
        Completion t1 = s.send("Hello!", config);
        Completion t2 = s.send("Say more", config);

        List<ChatMessage> conversation = List.of(
                ChatMessage.system("You are terse."),
                ChatMessage.user("Hello!"),
                ChatMessage.assistant(t1.text()),
                ChatMessage.user("Say more"));
        assertEquals(conversation, s.messages().subList(0, 4));
        assertEquals(ChatMessage.assistant(t2.text()), s.messages().get(4));
        assertTrue(model.tokenizer().applyChatTemplate(conversation, true).contains(t1.text()), t1.text());

        // Turn 1 is exactly a one-shot chat() on the first two messages.
        Completion one = model.chat(conversation.subList(0, 2), config);
        assertArrayEquals(one.ids(), t1.ids());
        int[] systemIds = model.tokenizer().encodeChat(conversation.subList(0, 1), false);
        assertArrayEquals(
                one.promptIds(),
                TestModels.concat(systemIds, t1.promptIds()),
                "the system message, then the rest of the first rendering");

        // Turn 2 fed only the new part; everything the state has consumed, as text, is the rendering of the
        // conversation: nothing lost or doubled.
        int[] held = TestModels.concat(systemIds, t1.promptIds(), t1.ids(), t2.promptIds());
        assertArrayEquals(
                model.tokenizer()
                        .encode("<|im_end|>\n<|im_start|>user\nSay more<|im_end|>\n<|im_start|>assistant\n", false),
                t2.promptIds(),
                "incremental turn: the end of the reply and the new user turn only");
        assertEquals(
                model.tokenizer().applyChatTemplate(conversation, true),
                model.tokenizer().decode(held, false));
        assertEquals(held.length + t2.ids().length, s.length());

        // Turn 2 equals a fresh generation on the same tokens.
        assertArrayEquals(model.generateIds(held, config, null, null).ids(), t2.ids());

        // And a fresh chat() on the full conversation, when the generated reply re-encodes to the same ids
        // (byte-level BPE need not: a model may generate a non-canonical split of its text).
        int[] reencoded = model.tokenizer().encodeChat(conversation, true);
        if (Arrays.equals(reencoded, held)) {
            assertArrayEquals(model.chat(conversation, config).ids(), t2.ids());
        }
    }

    @Test
    void chatSessionStaysIncrementalWhenARepliesHasControlCharacters() {
        // 12 greedy tokens of this model contain U+0002 and U+0007. The template renderer must carry them through
        // unchanged, so the next turn extends what the state holds and feeds only its new part.
        GenerationConfig config = greedy(12);
        ChatSession s = model.newSession();
        s.addMessage(ChatMessage.system("You are terse."));
        Completion t1 = s.send("Hello!", config);
        assertTrue(
                t1.text().chars().anyMatch(c -> c < 0x20 && c != '\n'),
                "this reply has control characters: " + t1.text());
        List<ChatMessage> conversation = List.of(
                ChatMessage.system("You are terse."),
                ChatMessage.user("Hello!"),
                ChatMessage.assistant(t1.text()),
                ChatMessage.user("Say more"));
        String rendered = model.tokenizer().applyChatTemplate(conversation, true);
        assertTrue(rendered.contains(t1.text()), "the rendering keeps the reply verbatim");
        int before = s.length();
        Completion t2 = s.send("Say more", config);
        int[] full = model.tokenizer().encodeChat(conversation, true);
        assertTrue(t2.promptIds().length < full.length, "fed only the new turn, not the whole conversation");
        assertEquals(before + t2.promptIds().length + t2.ids().length, s.length());
    }

    @Test
    void chatSessionWithEosReplies() {
        // The reply ends with the template's end token, as a chat model's reply does; the next turn starts after it.
        ChatSession s = model.newSession();
        int[] plain = model.chat(List.of(ChatMessage.user("Hi")), greedy(12)).ids();
        GenerationConfig config = greedy(12).toBuilder().stopTokenIds(plain[2]).build();
        Completion t1 = s.send("Hi", config);
        assertEquals(StopReason.EOS, t1.stopReason());
        Completion t2 = s.send("Again", config);
        List<ChatMessage> conversation =
                List.of(ChatMessage.user("Hi"), ChatMessage.assistant(t1.text()), ChatMessage.user("Again"));
        int[] held = TestModels.concat(t1.promptIds(), t1.ids(), t2.promptIds());
        assertArrayEquals(model.generateIds(held, config, null, null).ids(), t2.ids());
        assertEquals(held.length + t2.ids().length, s.length());
        assertTrue(model.tokenizer()
                .decode(held, false)
                .startsWith(model.tokenizer().applyChatTemplate(conversation.subList(0, 1), true)));
    }

    @Test
    void failedTurnLeavesTheConversationUnchanged() {
        GenerationConfig config = greedy(4);
        ChatSession s = model.newSession();
        Completion t1 = s.send("Hello!", config);
        GenerationConfig bad = config.toBuilder().stopTokenIds(100_000).build(); // outside the vocabulary
        assertThrows(IllegalArgumentException.class, () -> s.send("Say more", bad));
        assertEquals(List.of(ChatMessage.user("Hello!"), ChatMessage.assistant(t1.text())), s.messages());
        // The next turn is the one a session without the failed attempt gives.
        ChatSession clean = model.newSession();
        clean.send("Hello!", config);
        ChatSession forked = s.fork();
        ChatSession restored = model.restoreSession(s.snapshot());
        int[] expected = clean.send("Say more", config).ids();
        assertArrayEquals(expected, s.send("Say more", config).ids());
        assertArrayEquals(expected, forked.send("Say more", config).ids());
        assertArrayEquals(expected, restored.send("Say more", config).ids());
        assertEquals(clean.messages(), s.messages());
    }

    @Test
    void forkContinuesIdentically() {
        GenerationConfig config = greedy(10);
        ChatSession s = model.newSession();
        s.send("Hello!", config);
        ChatSession f = s.fork();
        assertEquals(s.messages(), f.messages());
        assertEquals(s.length(), f.length());
        Completion a = s.send("Next", config);
        Completion b = f.send("Next", config);
        assertArrayEquals(a.ids(), b.ids());
        assertEquals(s.messages(), f.messages());
        // Independent afterwards.
        s.send("Third", config);
        assertEquals(4, f.messages().size());
        assertEquals(6, s.messages().size());
        Completion c = f.send("Third", config);
        assertEquals(s.messages().get(5), ChatMessage.assistant(c.text()));
    }

    @Test
    void snapshotRestoresAndContinuesIdentically() {
        GenerationConfig config = greedy(10);
        ChatSession s = model.newSession();
        s.addMessage(ChatMessage.system("You are terse."));
        s.send("Hello!", config);
        byte[] snap = s.snapshot();
        ChatSession r = model.restoreSession(snap);
        assertEquals(s.messages(), r.messages());
        assertEquals(s.length(), r.length());
        assertArrayEquals(s.send("Next", config).ids(), r.send("Next", config).ids());

        // Plain sessions too (sampling with a seed continues identically as well).
        ChatSession p = model.newSession();
        p.append("Hello world");
        p.generate(greedy(5));
        ChatSession q = model.restoreSession(p.snapshot());
        GenerationConfig sampled =
                config.toBuilder().doSample(true).temperature(1.2).seed(7).build();
        assertArrayEquals(p.generate(sampled).ids(), q.generate(sampled).ids());

        assertThrows(IllegalArgumentException.class, () -> model.restoreSession(new byte[] {1, 2, 3}));
        byte[] truncated = Arrays.copyOf(snap, snap.length / 2);
        assertThrows(IllegalArgumentException.class, () -> model.restoreSession(truncated));
    }

    @Test
    void resetStartsOver() {
        GenerationConfig config = greedy(10);
        ChatSession s = model.newSession();
        Completion first = s.send("Hello!", config);
        s.send("Next", config);
        s.reset();
        assertEquals(0, s.length());
        assertTrue(s.messages().isEmpty());
        Completion again = s.send("Hello!", config);
        assertArrayEquals(first.ids(), again.ids());
        assertArrayEquals(first.promptIds(), again.promptIds());
    }

    @Test
    void plainAppendAndGenerate() {
        GenerationConfig config = greedy(8);
        ChatSession s = model.newSession();
        s.append("Hello world");
        List<String> pieces = new ArrayList<>();
        Completion g1 = s.generate(config, pieces::add);
        Completion oneShot = model.generate("Hello world", config);
        assertArrayEquals(oneShot.ids(), g1.ids());
        assertEquals(oneShot.text(), g1.text());
        assertEquals(g1.text(), String.join("", pieces));

        s.append(" and more");
        Completion g2 = s.generate(config);
        int[] more = model.tokenizer().encode(" and more", false);
        int[] all = TestModels.concat(oneShot.promptIds(), g1.ids(), more);
        assertArrayEquals(model.generateIds(all, config, null, null).ids(), g2.ids());
        assertEquals(all.length + g2.ids().length, s.length());

        // Generating twice in a row continues the sequence.
        Completion g3 = s.generate(config);
        int[] all2 = TestModels.concat(all, g2.ids());
        assertArrayEquals(model.generateIds(all2, greedy(8), null, null).ids(), g3.ids());

        ChatSession empty = model.newSession();
        assertThrows(IllegalStateException.class, () -> empty.generate(config));
        empty.append("");
        assertEquals(0, empty.length());
    }

    @Test
    void closedModelRejectsCalls() {
        FalconMamba fm = TestModels.load(TestModels.fixture("tiny-mamba"));
        ChatSession s = fm.newSession();
        s.append("Hello");
        fm.close();
        GenerationConfig config = greedy(3);
        List<org.junit.jupiter.api.function.Executable> calls = List.of(
                () -> fm.generate("Hello", config),
                () -> fm.generate("Hello"),
                () -> fm.generateIds(new int[] {1, 2}, config, null, null),
                () -> fm.generateBatch(List.of("a"), config),
                () -> fm.chat(List.of(ChatMessage.user("hi")), config),
                fm::newSession,
                () -> fm.restoreSession(new byte[16]),
                fm::tokenizer,
                fm::model,
                () -> s.generate(config),
                () -> s.append(" more"),
                () -> s.send("hi", config),
                s::fork,
                s::snapshot,
                s::reset);
        for (org.junit.jupiter.api.function.Executable call : calls) {
            IllegalStateException e = assertThrows(IllegalStateException.class, call);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertTrue(e.getMessage().contains("tiny-mamba"), e.getMessage());
        }
        fm.close(); // twice is fine
        assertNotEquals(null, fm.defaults());
    }
}
