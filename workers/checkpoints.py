"""Partial replies saved while they stream, coalesced: one request for every checkpoint made while the
previous one was in flight (checkpoint_chat_replies_v1), as the Broadcaster does for deltas.

Each streaming reply saves its text about once a second so that a client (re)joining mid-reply catches
up from the row. One request per reply and second made checkpoints most of a worker's requests once
replies last seconds; now a worker streaming 100 replies sends about one per round trip. An idle
worker's checkpoint goes out at once. Each caller still hears its own outcome: None, or what refused it
(LeaseLost when another worker owns the job now).
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.errors import TransientError
from workers.queue import JobQueue, fitting, outcomes

MAX_BATCH = 200


class Checkpoints:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._pending: list[tuple[dict[str, Any], asyncio.Future[Exception | None]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.requests = 0

    async def save(self, job_id: int, message_id: str, content: str) -> None:
        """Store `content` as the reply's partial text; raise what refused it (LeaseLost, ...)."""
        saved: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._pending.append(({"job_id": job_id, "message_id": message_id, "content": content}, saved))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending(), name="checkpoints")
        error = await asyncio.shield(saved)
        if error is not None:
            raise error

    async def _send_pending(self) -> None:
        while self._pending:
            batch = self._take()
            answered: dict[int, Exception | None] = {}
            failure: Exception | None = None
            try:
                self.requests += 1
                answer = await self.queue.rpc(
                    "checkpoint_chat_replies_v1",
                    {"p_worker": self.queue.worker_id, "p_items": [item for item, _ in batch]},
                )
                answered = outcomes(answer, "checkpoint of job")
            except Exception as exc:  # the whole call failed: every item in it did
                failure = exc
            finally:  # also when cancelled: nobody waits forever
                for item, saved in batch:
                    if not saved.done():
                        job_id = item["job_id"]
                        missing = TransientError(f"checkpoint of job {job_id}: not in the answer")
                        saved.set_result(failure or answered.get(job_id, missing))

    def _take(self) -> list[tuple[dict[str, Any], asyncio.Future[Exception | None]]]:
        """The next call's checkpoints: up to MAX_BATCH, and MAX_REQUEST_CHARS of text (at least one)."""
        count = fitting(len(item["content"]) for item, _ in self._pending[:MAX_BATCH])
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch
