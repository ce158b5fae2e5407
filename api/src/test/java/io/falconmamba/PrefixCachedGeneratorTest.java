package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.core.generation.Session;
import io.falconmamba.core.generation.SessionCache;
import io.falconmamba.core.generation.StateSpill;
import io.falconmamba.tokenizer.ChatMessage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Requests that resend a growing conversation prefill only their new tokens and generate what a fresh run does. */
class PrefixCachedGeneratorTest {

    private static final long BUDGET = 64L << 20;

    private static FalconMamba chatModel;
    private static FalconMamba demo;

    @BeforeAll
    static void load() {
        chatModel = TestModels.load(TestModels.fixture("tiny-falcon-mamba"));
        demo = TestModels.load(TestModels.demo());
    }

    @AfterAll
    static void close() {
        chatModel.close();
        demo.close();
    }

    private static GenerationConfig greedy(int n) {
        return GenerationConfig.builder().doSample(false).maxNewTokens(n).build();
    }

    @Test
    void aGrowingChatPrefillsOnlyEachTurnsNewTokensAndContinuesLikeAChatSession() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(chatModel, BUDGET);
        ChatSession session = chatModel.newSession();
        List<ChatMessage> messages = new ArrayList<>();
        messages.add(ChatMessage.system("You are terse."));
        session.addMessage(ChatMessage.system("You are terse."));
        int consumed = 0; // tokens of the previous turn's closed conversation
        String[] users = {"Hello there", "What is a state space model?", "And Mamba?", "Thanks!", "Bye."};
        for (int turn = 0; turn < users.length; turn++) {
            messages.add(ChatMessage.user(users[turn]));
            Completion cached = gen.chat(messages, greedy(12), null, null);
            Completion stateful = session.send(users[turn], greedy(12));
            if (turn == 0) {
                Completion fresh = chatModel.chat(messages, greedy(12));
                assertArrayEquals(fresh.ids(), cached.ids(), "a first turn is a plain chat");
                assertEquals(prompt0(messages), cached.stats().contextTokens());
            }
            assertEquals(stateful.text(), cached.text(), "turn " + turn);
            assertArrayEquals(stateful.ids(), cached.ids(), "turn " + turn);

            int[] prompt = cached.promptIds();
            assertArrayEquals(chatModel.tokenizer().encodeChat(messages, true), prompt);
            assertEquals(prompt.length - consumed, cached.prefilledTokens(), "turn " + turn);
            if (turn > 0) {
                // ChatML renders each message on its own: the new tokens are the user message's rendering.
                int own = chatModel.tokenizer().encodeChat(List.of(ChatMessage.user(users[turn])), true).length;
                assertEquals(own, cached.prefilledTokens(), "turn " + turn);
            }

            messages.add(ChatMessage.assistant(cached.text()));
            consumed = chatModel.tokenizer().encodeChat(messages, false).length;
        }
        assertEquals(users.length - 1, gen.cacheStats().hits());
    }

    private static int prompt0(List<ChatMessage> messages) {
        return chatModel.tokenizer().encodeChat(messages, true).length;
    }

    @Test
    void theSameRequestAgainPrefillsNothingAndRepeatsItself() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, BUDGET);
        Completion first = gen.generate("In the beginning", greedy(16), null, null);
        Completion again = gen.generate("In the beginning", greedy(16), null, null);
        Completion fresh = demo.generate("In the beginning", greedy(16));
        assertEquals(first.promptIds().length, first.prefilledTokens());
        assertEquals(0, again.prefilledTokens());
        assertEquals(fresh.text(), first.text());
        assertEquals(fresh.text(), again.text());
    }

    @Test
    void aContinuationReusesTheStateAtTheEndOfTheReply() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, BUDGET);
        String prompt = "And God said,";
        Completion first = gen.generate(prompt, greedy(10), null, null);
        String next = prompt + first.text() + " And";
        Completion second = gen.generate(next, greedy(10), null, null);
        Completion fresh = demo.generate(next, greedy(10));
        assertEquals(fresh.text(), second.text());
        int[] consumed = TestModels.concat(first.promptIds(), first.ids());
        int[] nextIds = second.promptIds();
        assertArrayEquals(
                consumed, Arrays.copyOf(nextIds, consumed.length), "the demo's reply re-encodes as generated");
        assertEquals(nextIds.length - consumed.length, second.prefilledTokens());
    }

    @Test
    void aStateSpilledToDiskComesBackAndContinuesLikeAnUncachedRequest(@TempDir Path spillDir) throws IOException {
        String prompt = "And God said,";
        long one = SessionCache.sizeOf(new Session(demo.model())) + 8L * 64;
        // Memory for one state: each new prompt evicts the previous request's states to disk.
        try (SessionCache cache = new SessionCache(one, StateSpill.open(spillDir, 64L << 20, demo.model()))) {
            PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, cache);
            Completion first = gen.generate(prompt, greedy(10), null, null);
            gen.generate("In the beginning", greedy(4), null, null);
            assertTrue(cache.spillStats().spilled() >= 1, cache.spillStats().toString());

            String next = prompt + first.text() + " And";
            Completion second = gen.generate(next, greedy(10), null, null);
            assertEquals(1, cache.spillStats().loaded(), cache.spillStats().toString());
            assertEquals(demo.generate(next, greedy(10)).text(), second.text());
            assertEquals(
                    second.promptIds().length - first.promptIds().length - first.ids().length,
                    second.prefilledTokens(),
                    "the reply's state came from disk");
        }
    }

    @Test
    void replyUsesTheTemplateOrContinuesTheConcatenatedTexts() {
        List<ChatMessage> messages = List.of(ChatMessage.user("In the beginning"), ChatMessage.assistant(" God"));
        assertEquals(
                demo.generate("In the beginning God", greedy(8)).text(),
                new PrefixCachedGenerator(demo, BUDGET)
                        .reply(messages, greedy(8), null, null)
                        .text());
        assertEquals(
                chatModel.chat(messages, greedy(8)).text(),
                new PrefixCachedGenerator(chatModel, BUDGET)
                        .reply(messages, greedy(8), null, null)
                        .text());
    }

    @Test
    void aZeroBudgetCachesNothing() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, 0);
        gen.generate("In the beginning", greedy(4), null, null);
        Completion again = gen.generate("In the beginning", greedy(4), null, null);
        assertEquals(again.promptIds().length, again.prefilledTokens());
        assertEquals(0, gen.cacheStats().entries());
    }

    @Test
    void concurrentRequestsGetWhatSequentialOnesGet() throws Exception {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, BUDGET);
        String[] prompts = {"In the beginning", "And God said,", "In the beginning God", "And the LORD"};
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Completion>> futures = new ArrayList<>();
            for (String p : prompts) {
                futures.add(pool.submit(() -> gen.generate(p, greedy(8), null, null)));
            }
            for (int i = 0; i < prompts.length; i++) {
                assertEquals(
                        demo.generate(prompts[i], greedy(8)).text(),
                        futures.get(i).get().text(),
                        prompts[i]);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void streamsWholePiecesThatConcatenateToTheText() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, BUDGET);
        StringBuilder streamed = new StringBuilder();
        Completion c = gen.generate("In the beginning", greedy(12), streamed::append, null);
        assertEquals(c.text(), streamed.toString());
        assertTrue(!c.text().isEmpty());
    }

    @Test
    void badArgumentsAreRefused() {
        PrefixCachedGenerator gen = new PrefixCachedGenerator(demo, BUDGET);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> gen.generateIds(new int[0], greedy(4), null, null));
        assertTrue(e.getMessage().contains("no tokens"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PrefixCachedGenerator(demo, -1));
    }
}
