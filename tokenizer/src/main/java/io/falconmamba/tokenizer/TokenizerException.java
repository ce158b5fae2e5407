package io.falconmamba.tokenizer;

/**
 * Unchecked failure of the tokenizer module: a missing or unparsable file (the message names it), a
 * token id outside the vocabulary (the message names the id and the vocabulary size), or a chat
 * template that cannot be found, compiled or rendered (the message names the construct and why).
 */
public class TokenizerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
