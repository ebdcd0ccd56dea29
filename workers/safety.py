"""Waiting for a message's safety decision while its reply generates (20261206000150).

A chat reply may start generating while its message is still being assessed, but none of its text may
be broadcast or stored, nor any tool run, before the message is cleared. `SafetyDecisions.watch` gives
the decision: the worker that finishes the assessment hears it from its finish (the handler's `then`);
the database broadcasts it on the workers' private topic unless that worker also holds the reply
(workers/wakeup.py calls `decided`; 20261210000800); and, Realtime being only a signal, the waiting worker
also polls safety_decisions_v1 for every message it waits on, in one request per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from shared.errors import TransientError
from workers.queue import JobQueue

log = logging.getLogger("workers.safety")

# How many decisions heard before anyone here waited for them are kept (a few seconds' worth at hundreds
# of messages a second; most are other workers' and never asked for).
HEARD_KEPT = 4096


class Holder(Protocol):
    """A reply's text held back until its message is decided (workers/streaming.py DeltaBatcher)."""

    def hand_over(self) -> dict[str, Any] | None: ...

    def handed_out(self, sent: bool) -> None: ...


class SafetyDecisions:
    def __init__(self, queue: JobQueue, *, poll_seconds: float = 1.0, give_up_seconds: float = 120.0) -> None:
        self.queue = queue
        self.poll_seconds = poll_seconds
        self.give_up_seconds = give_up_seconds
        self._waiting: dict[str, asyncio.Future[bool]] = {}
        self._heard: dict[str, bool] = {}  # decisions no one here waited for yet, oldest first
        self._holding: dict[str, Holder] = {}
        self._poller: asyncio.Task[None] | None = None

    def decided(self, message_id: str, cleared: bool) -> None:
        """A decision heard (a finish here, the broadcast, or a poll): resolve whoever waits for it, or keep
        it for a reply that starts waiting a moment later (claimed before the decision, but its handler had
        not reached `watch` yet when it was heard)."""
        future = self._waiting.get(message_id)
        if future is None:
            self._heard[message_id] = cleared
            if len(self._heard) > HEARD_KEPT:
                del self._heard[next(iter(self._heard))]
        elif not future.done():
            future.set_result(cleared)

    def watch(self, message_id: str) -> asyncio.Future[bool]:
        """The decision on `message_id` (True: cleared for coaching), resolved when it is made."""
        future = self._waiting.get(message_id)
        if future is None and message_id in self._heard:
            future = asyncio.get_running_loop().create_future()
            future.set_result(self._heard.pop(message_id))
            return future
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[message_id] = future
            future.add_done_callback(lambda _: self._waiting.pop(message_id, None))
            asyncio.get_running_loop().call_later(self.give_up_seconds, self._give_up, message_id, future)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="safety-poll")
        return future

    def hold(self, message_id: str, holder: Holder) -> None:
        """`holder` holds a reply's text back until `message_id` is decided (see `holder`)."""
        future = self._waiting.get(message_id)
        if future is None or future.done():
            return
        self._holding[message_id] = holder
        future.add_done_callback(lambda _: self._holding.pop(message_id, None))

    def unhold(self, message_id: str, holder: Holder) -> None:
        """`holder` no longer holds the reply to `message_id` (its attempt ended)."""
        if self._holding.get(message_id) is holder:
            del self._holding[message_id]

    def holder(self, message_id: str) -> Holder | None:
        """What holds the reply to `message_id` back in this process, if anything: the assessment's finish
        may take its text and have the decision send it (20261210000000)."""
        return self._holding.get(message_id)

    def _give_up(self, message_id: str, future: asyncio.Future[bool]) -> None:
        if not future.done():
            future.set_exception(TransientError(f"message {message_id}: no safety decision yet; retrying later"))

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.poll_seconds)
            ids = list(self._waiting)
            if not ids:
                return
            try:
                answer = await self.queue.rpc("safety_decisions_v1", {"p_message_ids": ids})
            except Exception as exc:  # the broadcast may still come; poll again
                log.warning("safety decisions poll failed", extra={"error": repr(exc)})
                continue
            for message_id, cleared in (answer or {}).items():
                self.decided(message_id, cleared is True)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
