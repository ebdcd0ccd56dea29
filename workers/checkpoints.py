"""Partial replies saved while they stream, coalesced: one request for every checkpoint made while the
previous one was in flight (checkpoint_chat_replies_v1), as the Broadcaster does for deltas.

Each streaming reply saves its text about once a second so that a client (re)joining mid-reply catches
up from the row: the text of the deltas sent so far with the last one's `seq` and `attempt`, after which
the client applies the later deltas. One request per reply and second made checkpoints most of a
worker's requests once replies last seconds; now a worker streaming 100 replies sends about one per
round trip. An idle worker's checkpoint goes out at once. Each caller still hears its own outcome: None,
or what refused it (LeaseLost when another worker owns the job now).
"""

from __future__ import annotations

from typing import Any

from shared.coalesce import Coalescer
from shared.errors import TransientError
from workers.queue import JobQueue, outcomes

MAX_BATCH = 200


class Checkpoints:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._calls: Coalescer[dict[str, Any], Exception | None] = Coalescer(
            self._send, _not_stored, max_items=MAX_BATCH, size=lambda item: len(item["content"]), name="checkpoints"
        )
        self.requests = 0

    async def save(
        self, job_id: int, message_id: str, content: str, seq: int | None = None, attempt: int | None = None
    ) -> None:
        """Store `content`, the text of the reply's deltas 1..`seq` of `attempt` (None: not known), as its
        partial text; raise what refused it (LeaseLost, ...)."""
        item = {"job_id": job_id, "message_id": message_id, "content": content, "seq": seq, "attempt": attempt}
        error = await self._calls.submit(item)
        if error is not None:
            raise error

    async def _send(self, items: list[dict[str, Any]]) -> list[Exception | None]:
        self.requests += 1
        answer = await self.queue.rpc(
            "checkpoint_chat_replies_v1", {"p_worker": self.queue.worker_id, "p_items": items}
        )
        answered = outcomes(answer, "checkpoint of job")
        return [answered[item["job_id"]] if item["job_id"] in answered else _not_stored(item, None) for item in items]


def _not_stored(item: dict[str, Any], error: Exception | None) -> Exception:
    """A checkpoint's outcome when its call failed (that error) or its answer lacks it."""
    return error or TransientError(f"checkpoint of job {item['job_id']}: not in the answer")
