package io.falconmamba.core.generation;

/** Hugging Face's {@code TemperatureLogitsWarper}: every score divided by the temperature (float arithmetic). */
final class Temperature {

    private Temperature() {}

    static void apply(Candidates c, float temperature) {
        float[] scores = c.scores();
        for (int i = 0, n = c.size(); i < n; i++) {
            int id = c.id(i);
            scores[id] = scores[id] / temperature;
        }
    }
}
