package io.falconmamba.spark;

import java.util.ArrayList;
import java.util.List;

/** A thousand distinct prompts in the demo model's idiom (King James verse openings), the same every run. */
final class Prompts {

    private static final String[] OPENINGS = {
        "And the LORD said unto", "In the beginning", "And it came to pass, when", "Blessed is the man that",
        "Then said Jesus unto", "And he went up to", "Thus saith the LORD of hosts,", "And the children of Israel",
        "For God so loved", "Now the serpent was", "And when they came to", "Hear, O Israel:",
        "The earth is the LORD'S,", "And David said to", "Wherefore I say unto you,", "And the king commanded",
        "Behold, I send", "Let not your heart be", "And Moses went out to", "Praise ye the LORD.",
        "And the angel of the LORD", "But the word of the LORD", "And there was a famine in", "O give thanks unto",
        "And Abraham rose up early"
    };

    private static final String[] PLACES = {
        "Jerusalem",
        "Egypt",
        "Babylon",
        "the wilderness",
        "Bethel",
        "Samaria",
        "the mountain",
        "the river",
        "Zion",
        "the temple",
        "Gilead",
        "the sea",
        "Judah",
        "the city",
        "Canaan",
        "the valley",
        "Moab",
        "Hebron",
        "the house of God",
        "the gate",
        "the field",
        "Damascus",
        "Jordan",
        "the camp",
        "Shiloh",
        "the land",
        "the tabernacle",
        "Galilee",
        "the palace",
        "the desert",
        "Edom",
        "Bashan",
        "the vineyard",
        "Jericho",
        "the cave",
        "Sinai",
        "the altar",
        "the ark",
        "Nineveh",
        "Tyre"
    };

    private Prompts() {}

    /** {@code n} distinct prompts (n at most 25 × 40 = 1,000). */
    static List<String> first(int n) {
        if (n > OPENINGS.length * PLACES.length) {
            throw new IllegalArgumentException("at most " + OPENINGS.length * PLACES.length + " prompts");
        }
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(OPENINGS[i % OPENINGS.length] + " " + PLACES[i / OPENINGS.length]);
        }
        return out;
    }
}
