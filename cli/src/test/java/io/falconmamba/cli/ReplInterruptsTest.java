package io.falconmamba.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.falconmamba.cli.ReplInterrupts.Action;
import io.falconmamba.core.generation.CancellationToken;
import org.junit.jupiter.api.Test;

class ReplInterruptsTest {

    @Test
    void ctrlCCancelsTheReplyThenTwiceAtThePromptExits() {
        ReplInterrupts i = new ReplInterrupts();
        CancellationToken reply = i.replyStarted();
        assertEquals(Action.CANCELLED_REPLY, i.interrupt());
        assertTrue(reply.isCancelled());
        i.replyEnded();
        assertEquals(Action.WARNED, i.interrupt());
        i.lineRead(); // the user typed something: start counting again
        assertEquals(Action.WARNED, i.interrupt());
        assertEquals(Action.EXIT, i.interrupt());
    }

    @Test
    void aReplyStartedAfterAWarningResetsIt() {
        ReplInterrupts i = new ReplInterrupts();
        assertEquals(Action.WARNED, i.interrupt());
        i.replyStarted();
        i.replyEnded();
        assertEquals(Action.WARNED, i.interrupt(), "one Ctrl-C after a reply only warns");
    }
}
