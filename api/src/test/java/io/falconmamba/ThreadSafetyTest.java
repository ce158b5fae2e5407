package io.falconmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.tokenizer.ChatMessage;
import io.falconmamba.tokenizer.ChatTemplate;
import io.falconmamba.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What the javadoc says may be shared across threads is: each shared thing used from four threads at once gives what
 * the same calls give one after the other.
 */
class ThreadSafetyTest {

    static final int THREADS = 4;
    static final int ROUNDS = 3;
    static FalconMamba fm;

    @BeforeAll
    static void load() {
        fm = TestModels.load(TestModels.fixture("tiny-falcon-mamba"));
    }

    @AfterAll
    static void close() {
        fm.close();
    }

    /** Runs {@code task(i)} for i in [0, THREADS × ROUNDS) on THREADS threads at once and in order; both must agree. */
    static <T> void sameConcurrentlyAsSequentially(IntFunction<T> task, java.util.function.BiConsumer<T, T> check)
            throws Exception {
        int n = THREADS * ROUNDS;
        List<T> sequential = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sequential.add(task.apply(i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                futures.add(pool.submit((Callable<T>) () -> task.apply(k)));
            }
            for (int i = 0; i < n; i++) {
                check.accept(sequential.get(i), futures.get(i).get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void oneFalconMambaGeneratesOnFourThreads() throws Exception {
        // One config shared by all threads; each call samples with its own seed.
        GenerationConfig shared = GenerationConfig.builder()
                .doSample(true)
                .temperature(1.2)
                .topK(40)
                .maxNewTokens(24)
                .build();
        sameConcurrentlyAsSequentially(
                i -> fm.generate("Hello " + i, shared.toBuilder().seed(i).build()), (a, b) -> {
                    assertArrayEquals(a.ids(), b.ids());
                    assertEquals(a.text(), b.text());
                });
    }

    @Test
    void oneTokenizerEncodesAndDecodesOnFourThreads() throws Exception {
        Tokenizer t = fm.tokenizer();
        sameConcurrentlyAsSequentially(
                i -> {
                    int[] ids = t.encode("In the beginning " + i + " 世界 🙂", true);
                    return t.decode(ids, false) + "|" + java.util.Arrays.toString(ids);
                },
                (a, b) -> assertEquals(a, b));
    }

    @Test
    void oneChatTemplateRendersOnFourThreads() throws Exception {
        ChatTemplate template = ChatTemplate.of("{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>"
                + "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
        sameConcurrentlyAsSequentially(
                i -> template.render(
                        List.of(ChatMessage.system("be brief " + i), ChatMessage.user("question " + i)), i % 2 == 0),
                (a, b) -> assertEquals(a, b));
    }
}
