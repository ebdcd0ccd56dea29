"""Group commit for API calls: items submitted while a call is in flight go together in the next.

The worker's Broadcast deltas and its reply checkpoints both go this way: a worker streaming 100 replies
sends a few requests per tick instead of one per item, and an idle one sends an item at once. Each
submitter still gets its own item's outcome. One call at a time keeps the items' order (deltas); where
order does not matter and each item's wait does (the safety decisions every reply waits for), `calls`
lets more go out at once, so an item does not wait for a batch under way to commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# What one call carries at most, in characters of its items: a request body stays well under the 1 MiB
# API gateways commonly accept, even at four bytes per character. A longer single item still goes.
MAX_REQUEST_CHARS = 200_000


def fitting(sizes: Iterable[int], limit: int = MAX_REQUEST_CHARS) -> int:
    """How many of the leading items, of these sizes, one call carries: within `limit`, at least one."""
    count, total = 0, 0
    for size in sizes:
        total += size
        if count and total > limit:
            break
        count += 1
    return count


class Coalescer(Generic[Item, Outcome]):
    def __init__(
        self,
        send: Callable[[list[Item]], Awaitable[list[Outcome]]],
        failed: Callable[[Item, Exception | None], Outcome],
        *,
        max_items: int,
        size: Callable[[Item], int] | None = None,
        name: str = "coalescer",
        calls: int = 1,
    ) -> None:
        """`send` makes one call for a batch and returns each item's outcome, in order; `failed` is an
        item's outcome when its call raised (the exception) or ended without an answer for it (None).
        A call carries at most `max_items`, and at most MAX_REQUEST_CHARS by `size` when one is given;
        at most `calls` are in flight at once (with more than one, batches may complete in any order)."""
        self._send = send
        self._failed = failed
        self._max_items = max_items
        self._size = size
        self._name = name
        self._calls = calls
        self._pending: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._senders: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Outcome:
        """Send `item` with the next call; its outcome."""
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, outcome))
        self._senders = self._running()
        if len(self._senders) < self._calls:
            self._senders.add(asyncio.create_task(self._send_pending(), name=self._name))
        return await asyncio.shield(outcome)

    async def flushed(self, seconds: float) -> None:
        """Wait (up to `seconds`) for the calls under way and those pending."""
        running = self._running()
        if running:
            await asyncio.wait(running, timeout=seconds)

    def _running(self) -> set[asyncio.Task[None]]:
        """The senders still at work: one that has returned is done at once (no callback to wait for), so an
        item submitted right after it starts a call of its own."""
        return {sender for sender in self._senders if not sender.done()}

    async def _send_pending(self) -> None:
        while self._pending:
            batch = self._take()
            outcomes: list[Outcome] = []
            error: Exception | None = None
            try:
                outcomes = await self._send([item for item, _ in batch])
            except Exception as exc:  # the whole call failed: every item in it did
                error = exc
            finally:  # also when cancelled: nobody waits forever
                for index, (item, outcome) in enumerate(batch):
                    if not outcome.done():
                        outcome.set_result(outcomes[index] if index < len(outcomes) else self._failed(item, error))

    def _take(self) -> list[tuple[Item, asyncio.Future[Outcome]]]:
        head = self._pending[: self._max_items]
        count = len(head) if self._size is None else fitting(self._size(item) for item, _ in head)
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch
