"""A streamed model turn: text to the app in batched `delta` broadcasts, partial text into the row.

Deltas are `{message_id, seq, text, attempt}` on the conversation's private topic, at most every
`interval` seconds; `seq` keeps counting across the turns of a tool-using reply, and clients apply them in
order. `attempt` is the job's: a reply tried again (its worker died, or its stream failed and the job is
retried) counts `seq` from 1 under a higher attempt, which tells an app to start over
(20261210000100): the text of its turns stored before (a tool-using reply resumes after them) goes out
again first, then what is generated anew.
The reply's text so far is checkpointed about once a second with the `seq` and `attempt` of the last
delta it holds (a client joining mid-reply catches up from the row, then applies later deltas); the
last batch goes out with the reply's finish, and a tool-calling turn's last batch with its step (before
the step's tool events), both from the database.

A reply may generate before its message is cleared by the safety assessment (workers/safety.py): its
`gate` then holds every delta and checkpoint back; when it opens they go out at once, and when the
message is not cleared nothing of the reply ever leaves the worker (`Withheld`). The assessment's finish,
when this worker sends it, takes the text held so far (`hand_over`): the decision sends it from the
database if it clears the message, and the worker only if that finish did not commit (`handed_out(False)`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shared.broadcast import Broadcaster
from shared.llm.base import Completion, LLMProvider, Prompt, TextDelta
from workers.checkpoints import Checkpoints
from workers.queue import LeaseLost

log = logging.getLogger("workers.streaming")


class Withheld(Exception):
    """The message was not cleared for coaching (it got a crisis or fallback response): drop the reply."""


def is_open(gate: asyncio.Future[bool] | None) -> bool:
    """Whether text may go out: no gate, or a gate resolved to cleared."""
    return gate is None or (gate.done() and not gate.cancelled() and gate.exception() is None and gate.result())


async def passed(gate: asyncio.Future[bool] | None) -> None:
    """Wait until `gate` opens; raise Withheld if the message is not cleared (or what the wait raised)."""
    if gate is not None and not await asyncio.shield(gate):
        raise Withheld("the message was not cleared for a coaching reply")


class DeltaBatcher:
    """Collects text and broadcasts it at most every `interval` seconds as {message_id, seq, text, attempt}."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        topic: str,
        message_id: str,
        interval: float,
        gate: asyncio.Future[bool] | None = None,
        attempt: int = 1,
    ) -> None:
        self.broadcaster = broadcaster
        self.attempt = attempt
        self.gate = gate
        self.topic = topic
        self.message_id = message_id
        self.interval = interval
        self.pending: list[str] = []
        self.seq = 0
        # Text handed to the safety decision (hand_over), and whether the decision sent it (handed_out).
        self.handed: dict[str, Any] | None = None
        self._handed_sent: asyncio.Future[bool] | None = None
        # Counted from the request: with any real model the first token comes later than `interval`
        # and goes out at once; a reply faster than that goes out whole with the completion.
        self.last_flush = time.monotonic()

    async def add(self, text: str) -> None:
        self.pending.append(text)
        if is_open(self.gate) and time.monotonic() - self.last_flush >= self.interval:
            await self.flush()

    async def flush(self) -> None:
        """Broadcast the text not yet sent, once it may go out."""
        await passed(self.gate)
        if self.handed is not None and self._handed_sent is not None:
            # The gate may open (the decision's broadcast) before the finish's answer says who sends it;
            # text handed over and not sent goes first, under its own number (take_tail).
            await asyncio.shield(self._handed_sent)
        delta = self._take()
        if delta is not None:
            await self.broadcaster.send(self.topic, "delta", delta)

    def take_now(self) -> dict[str, Any] | None:
        """The text not yet sent as a delta for the caller to send (a tool step, from its transaction), if it
        may go out without waiting; None when there is none or it must wait (the gate is shut, or the fate of
        text handed to the safety decision is not known yet: `flush` sends it then)."""
        if not is_open(self.gate) or (self._handed_sent is not None and not self._handed_sent.done()):
            return None
        return self._take()

    def _take(self) -> dict[str, Any] | None:
        text, seq = self.take_tail()
        if not text:
            return None
        self.last_flush = time.monotonic()
        return self._delta(seq, text)

    def hand_over(self) -> dict[str, Any] | None:
        """The text held back so far, as the delta it would go out as, for the decision that clears the
        message to send from the database (workers/kinds/safety_assessment.py); None when nothing is held.
        Until `handed_out`, it is still this batcher's to send once the gate opens."""
        if is_open(self.gate) or self.handed is not None or not self.pending:
            return None
        text, seq = self.take_tail()
        self.handed = self._delta(seq, text)
        self._handed_sent = asyncio.get_running_loop().create_future()
        return dict(self.handed)

    def handed_out(self, sent: bool) -> None:
        """The finish that took the text committed (`sent`: its decision, clearing the message, sent the
        text), or did not (the text is this batcher's again)."""
        if self._handed_sent is not None and not self._handed_sent.done():
            self._handed_sent.set_result(sent)

    def _delta(self, seq: int, text: str) -> dict[str, Any]:
        return {"message_id": self.message_id, "seq": seq, "text": text, "attempt": self.attempt}

    def take_tail(self) -> tuple[str, int]:
        """The text not yet sent and the sequence number it goes out with (0 when there is none)."""
        fate = self._handed_sent
        if self.handed is not None and fate is not None and fate.done() and not fate.result():
            # handed over, not sent: it goes first, under its own number
            self.pending.insert(0, self.handed["text"])
            self.seq = self.handed["seq"] - 1
            self.handed = None
        elif fate is not None and fate.done():  # sent by the decision
            self.handed = None
        if not self.pending:
            return "", 0
        text, self.pending = "".join(self.pending), []
        self.seq += 1
        return text, self.seq


@dataclass
class ReplyStream:
    """One reply's stream: its batcher, checkpoints and the text written so far (over all its turns)."""

    job_id: int
    reply_id: str
    batcher: DeltaBatcher
    checkpoints: Checkpoints
    checkpoint_every: float
    text: str = ""
    _last_checkpoint: float = 0.0
    _flushing: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._last_checkpoint = time.monotonic()
        gate = self.batcher.gate
        if gate is not None and not gate.done():  # held back: everything goes out the moment it opens
            gate.add_done_callback(lambda _: self.flush_soon() if is_open(gate) else None)

    @property
    def open(self) -> bool:
        return is_open(self.batcher.gate)

    async def cleared(self) -> None:
        """Wait until the reply's text may go out (Withheld if it never may)."""
        await passed(self.batcher.gate)

    def resume(self, texts: list[str]) -> None:
        """The text of the turns stored before this attempt (a takeover, or a retry after a failed turn).
        It was broadcast under an earlier attempt, and an app starts over on this one's deltas: it goes out
        again first, from seq 1."""
        for text in texts:
            self.text = _joined(self.text, text)
        if self.text:
            self.batcher.pending.append(self.text)

    async def turn(self, provider: LLMProvider, prompt: Prompt) -> Completion:
        """Stream one model turn; its text is added to the reply's (a turn after another starts on a new
        paragraph). Returns the turn's completion."""
        final: Completion | None = None
        first = True
        async for event in provider.stream(prompt):
            if isinstance(event, TextDelta):
                piece = _joined(self.text, event.text)[len(self.text) :] if first else event.text
                first = False
                self.text += piece
                await self.batcher.add(piece)
                if self.open and time.monotonic() - self._last_checkpoint >= self.checkpoint_every:
                    await self._checkpoint()
                    self._last_checkpoint = time.monotonic()
            else:
                final = event
        if final is None:  # providers always end with a Completion; guard against a broken one
            raise RuntimeError("the provider's stream ended without a completion")
        return final

    def flush_soon(self) -> None:
        """Broadcast the text not yet sent without waiting for it (`flushed` waits for all of them)."""
        task = asyncio.create_task(self.batcher.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flushed(self) -> None:
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    async def add(self, text: str) -> None:
        """Text the reply gets without a model (a note to the user)."""
        self.text += text
        await self.batcher.add(text)

    async def _checkpoint(self) -> None:
        """Store the text of the deltas numbered so far (the text still pending goes out in the next one)."""
        batcher = self.batcher
        held = sum(len(piece) for piece in batcher.pending)
        text = self.text[: len(self.text) - held] if held else self.text
        try:
            await self.checkpoints.save(self.job_id, self.reply_id, text, batcher.seq, batcher.attempt)
        except LeaseLost:
            raise
        except Exception as exc:  # a missed checkpoint only delays catch-up; the final write is what counts
            log.warning("checkpoint failed", extra={"job_id": self.job_id, "error": repr(exc)})


def _joined(before: str, text: str) -> str:
    """`text` after `before`, on a new paragraph when both have words and nothing separates them."""
    if before.strip() and text.strip() and not before[-1].isspace() and not text[0].isspace():
        return before + "\n\n" + text
    return before + text
