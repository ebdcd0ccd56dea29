"""The worker loop with an in-memory queue: no wake-up is lost while a claim is in flight, and result-less
jobs are completed together with the next claim."""

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
        self.acknowledged: list[list[int]] = []  # the `complete` list of each claim that had one
        self.lost: set[int] = set()  # jobs whose lease "another worker" took
        self.during_claim: Callable[[], Awaitable[None]] | None = None

    async def claim(
        self, kinds: list[str], limit: int, lease_seconds: int, complete: list[int] | None = None
    ) -> tuple[list[dict[str, Any]], set[int]]:
        self.claims += 1
        if complete:
            self.acknowledged.append(sorted(complete))
        rows, self.due = self.due[:limit], self.due[limit:]
        hook, self.during_claim = self.during_claim, None
        if hook is not None:
            await hook()
        return rows, set(complete or []) - self.lost

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
        for _ in range(100):  # its completion goes out with the claim that follows
            if queue.acknowledged:
                break
            await asyncio.sleep(0.02)
        assert queue.acknowledged == [[1]]
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)


async def test_result_less_jobs_complete_with_the_next_claim_and_others_on_their_own() -> None:
    queue = MemoryQueue()
    queue.due = [row(1), row(2), row(3), {**row(4), "kind": "with_result"}]
    queue.lost = {3}
    release = asyncio.Event()

    async def noop(job: Job, ctx: JobContext) -> None:
        await release.wait()

    async def with_result(job: Job, ctx: JobContext) -> dict[str, Any]:
        return {"answer": 42}

    metrics = Metrics()
    worker = Worker(
        queue=queue,  # type: ignore[arg-type]
        handlers={"noop": noop, "with_result": with_result},
        metrics=metrics,
        concurrency=4,  # all four slots taken: the acknowledgements still go out (a claim of 0)
        sweep_seconds=30,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(100):
            if queue.completed:
                break
            await asyncio.sleep(0.02)
        assert queue.completed == [4]  # a result goes through complete(), at once
        release.set()
        for _ in range(100):
            if not worker.inflight:
                break
            await asyncio.sleep(0.02)
        assert not worker.inflight
        assert [1, 2, 3] in queue.acknowledged  # one claim completed the three together
        assert 1 not in queue.completed
        rendered = metrics.render()
        assert 'coachbase_jobs_total{kind="noop",outcome="succeeded"} 2' in rendered
        assert 'coachbase_jobs_total{kind="noop",outcome="lease_lost"} 1' in rendered
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
