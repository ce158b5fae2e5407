package io.falconmamba.cli;

import io.falconmamba.core.generation.CancellationToken;

/**
 * What Ctrl-C means in the chat REPL: during a reply it cancels that reply (the conversation stays, the prompt
 * returns); at the prompt the first one says how to leave and a second one exits. Thread-safe: the signal arrives on
 * its own thread.
 */
final class ReplInterrupts {

    enum Action {
        /** The reply in progress was cancelled. */
        CANCELLED_REPLY,
        /** At the prompt: the next Ctrl-C exits. */
        WARNED,
        /** A second Ctrl-C at the prompt: leave the REPL. */
        EXIT
    }

    private CancellationToken reply;
    private boolean warned;

    /** A reply starts: Ctrl-C cancels it through the returned token. */
    synchronized CancellationToken replyStarted() {
        reply = new CancellationToken();
        warned = false;
        return reply;
    }

    /** The reply ended (or failed); back at the prompt. */
    synchronized void replyEnded() {
        reply = null;
    }

    /** A line was read: a Ctrl-C before it no longer counts toward exiting. */
    synchronized void lineRead() {
        warned = false;
    }

    synchronized Action interrupt() {
        if (reply != null) {
            reply.cancel();
            reply = null;
            return Action.CANCELLED_REPLY;
        }
        if (warned) {
            return Action.EXIT;
        }
        warned = true;
        return Action.WARNED;
    }
}
