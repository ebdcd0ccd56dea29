"""The worker loop's wake-ups, with an in-memory queue: no wake-up may be lost while a claim is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shared.models import Job
from workers.metrics import Metrics
from workers.runtime import JobContext, Worker


class MemoryQueue:
    """Just enough of workers.queue.JobQueue: due rows, and a hook that runs inside the next claim."""

    worker_id = "memory"

    def __init__(self) -> None:
        self.due: list[dict[str, Any]] = []
        self.claims = 0
        self.completed: list[int] = []
        self.during_claim: Callable[[], Awaitable[None]] | None = None

    async def claim(self, kinds: list[str], limit: int, lease_seconds: int) -> list[dict[str, Any]]:
        self.claims += 1
        rows, self.due = self.due[:limit], self.due[limit:]
        hook, self.during_claim = self.during_claim, None
        if hook is not None:
            await hook()
        return rows

    async def complete(self, job: Job, result: dict[str, Any] | None) -> None:
        self.completed.append(job.id)

    async def extend(self, job: Job, lease_seconds: int) -> None:
        return None

    async def release(self, job: Job) -> None:
        return None

    async def fail(self, job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        return "failed"


def row(job_id: int) -> dict[str, Any]:
    return {"id": job_id, "kind": "noop", "payload": {}, "attempts": 1, "max_attempts": 3}


async def test_a_job_inserted_while_a_claim_is_in_flight_is_claimed_at_once() -> None:
    queue = MemoryQueue()
    done = asyncio.Event()

    async def handler(job: Job, ctx: JobContext) -> None:
        done.set()

    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]

    async def insert_and_signal() -> None:
        # The claim has read the queue already; the job lands now and its Realtime event arrives.
        queue.due.append(row(1))
        worker.wake()

    queue.during_claim = insert_and_signal
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(done.wait(), 2)  # not the 30 s sweep
        await asyncio.sleep(0.05)
        assert queue.completed == [1]
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
