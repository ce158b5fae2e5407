package io.falconmamba.tokenizer;

import java.util.Arrays;

/**
 * Turns generated token ids into text pieces as they arrive, handing out only text that is final.
 *
 * <p>Byte-level BPE splits one character (an emoji, a CJK ideograph) over several tokens; decoding a
 * prefix of them ends in U+FFFD. This decoder holds such text back until the character is complete,
 * so every piece is whole characters, and the pieces concatenated equal
 * {@code tokenizer.decode(allIds, skipSpecialTokens)}.
 *
 * <p>How: it keeps two offsets into the ids, {@code prefix} (where the last emitted piece's context
 * starts) and {@code read} (how far text has been emitted). On each id it decodes
 * {@code ids[prefix:]} and {@code ids[prefix:read]}; if the first is longer and does not end in
 * U+FFFD, the difference is the new piece. Decoding with one token of left context keeps decoders that
 * treat the start of a text specially (SentencePiece's leading space) correct. Each step decodes only
 * the few ids since {@code prefix}, so a long generation costs O(n), not O(n²).
 *
 * <p>Not thread-safe: one decoder per generated sequence.
 */
public final class StreamingDecoder {
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids = new int[16];
    private int size; // ids held: ids[0, size) are the tokens from `prefix` on
    private int read; // relative to ids[0]: ids[0, read) have been emitted (ids[0, read) is the context)

    StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /**
     * Adds one generated id.
     *
     * @return the text that became final with it ("" when the id completes nothing yet, or is an id the tokenizer
     *     does not have, which decodes to nothing as in {@link Tokenizer#decode(int[], boolean)})
     * @throws TokenizerException if the id is negative
     */
    public String push(int id) {
        if (id < 0) {
            throw new TokenizerException("token id " + id + " is negative");
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefixText = tokenizer.decode(ids, 0, read, skipSpecialTokens);
        String newText = tokenizer.decode(ids, 0, size, skipSpecialTokens);
        if (newText.length() > prefixText.length() && newText.charAt(newText.length() - 1) != REPLACEMENT) {
            String piece = newText.substring(prefixText.length());
            // The emitted ids become the context of the next piece; older ids are no longer needed.
            System.arraycopy(ids, read, ids, 0, size - read);
            size -= read;
            read = size;
            return piece;
        }
        return "";
    }

    /** Ends the sequence: returns whatever text is still held back (possibly ending in U+FFFD). */
    public String flush() {
        String prefixText = tokenizer.decode(ids, 0, read, skipSpecialTokens);
        String newText = tokenizer.decode(ids, 0, size, skipSpecialTokens);
        String piece = newText.length() > prefixText.length() ? newText.substring(prefixText.length()) : "";
        System.arraycopy(ids, read, ids, 0, size - read);
        size -= read;
        read = size;
        return piece;
    }

    /** Whether ids are held back that have not become text yet. */
    public boolean hasPending() {
        return read < size;
    }
}
