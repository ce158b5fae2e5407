package io.falconmamba.langchain4j;

import io.falconmamba.FalconMamba;
import io.falconmamba.LoadOptions;
import io.falconmamba.core.generation.GenerationConfig;
import io.falconmamba.testkit.TestData;

/** The two test models, loaded once per JVM with one kernel thread (tiny models, shared machine). */
final class Models {

    static final FalconMamba DEMO =
            FalconMamba.load(TestData.demoModel(), LoadOptions.defaults().withThreads(1));
    static final FalconMamba TEMPLATED = FalconMamba.load(
            TestData.fixture("tiny-falcon-mamba"), LoadOptions.defaults().withThreads(1));

    private Models() {}

    /** What a LangChain4j request with temperature 0 and {@code n} max output tokens asks of the engine. */
    static GenerationConfig greedy(FalconMamba model, int n) {
        return model.defaults().toBuilder().doSample(false).maxNewTokens(n).build();
    }
}
