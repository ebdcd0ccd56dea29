"""The worker loop with an in-memory queue: no wake-up is lost while a claim is in flight, and finished
jobs (with or without a result) go out together with the next claim."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from shared.coalesce import MAX_REQUEST_CHARS
from shared.errors import PermanentError
from shared.models import Job
from workers.metrics import Metrics
from workers.queue import LeaseLost
from workers.runtime import JobContext, Worker


class MemoryQueue:
    """Just enough of workers.queue.JobQueue: due rows, and a hook that runs inside the next claim."""

    worker_id = "memory"

    def __init__(self) -> None:
        self.due: list[dict[str, Any]] = []
        self.claims = 0
        self.batches: list[list[int]] = []  # the finished ids of each claim that had some
        self.results: dict[int, Any] = {}  # what each finished job was finished with
        self.lost: set[int] = set()  # jobs whose lease "another worker" took
        self.refuse_claims: PermanentError | None = None
        self.during_claim: Callable[[], Awaitable[None]] | None = None

    async def claim(
        self, kinds: list[str], limit: int, lease_seconds: int, finish: list[dict[str, Any]] | None = None
    ) -> tuple[list[dict[str, Any]], dict[int, Exception | None]]:
        self.claims += 1
        if self.refuse_claims is not None:
            raise self.refuse_claims
        if finish:
            self.batches.append(sorted(item["id"] for item in finish))
        outcomes: dict[int, Exception | None] = {}
        for item in finish or []:
            if item["id"] in self.lost:
                outcomes[item["id"]] = LeaseLost(f"job {item['id']}: lease lost")
            else:
                outcomes[item["id"]] = None
                self.results[item["id"]] = {k: v for k, v in item.items() if k != "id"}
        rows, self.due = self.due[:limit], self.due[limit:]
        hook, self.during_claim = self.during_claim, None
        if hook is not None:
            await hook()
        return rows, outcomes

    async def extend(self, job: Job, lease_seconds: int) -> None:
        return None

    async def release(self, job: Job) -> None:
        return None

    async def fail(self, job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        return "failed"


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    """The worker's loop in the background; stopped (and its in-flight jobs drained) at the end."""
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)


async def _until(condition: Callable[[], bool]) -> None:
    """Poll for an outcome for up to 2 s (the caller asserts it afterwards)."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.02)


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
    async with running(worker):
        await asyncio.wait_for(done.wait(), 2)  # not the 30 s sweep
        await _until(lambda: bool(queue.batches))  # its completion goes out with the claim that follows
        assert queue.batches == [[1]]


async def test_finished_jobs_go_out_together_with_the_next_claim() -> None:
    queue = MemoryQueue()
    queue.due = [row(1), row(2), row(3), {**row(4), "kind": "with_result"}, {**row(5), "kind": "chat"}]
    queue.lost = {3}
    release = asyncio.Event()

    async def noop(job: Job, ctx: JobContext) -> None:
        await release.wait()

    async def with_result(job: Job, ctx: JobContext) -> dict[str, Any]:
        await release.wait()
        return {"answer": 42}

    async def chat(job: Job, ctx: JobContext) -> None:
        await release.wait()
        await ctx.finish(chat_reply={"content": "hi"})  # the handler finishes it itself

    metrics = Metrics()
    worker = Worker(
        queue=queue,  # type: ignore[arg-type]
        handlers={"noop": noop, "with_result": with_result, "chat": chat},
        metrics=metrics,
        concurrency=5,  # all slots taken: the finished jobs still go out (a claim of 0)
        sweep_seconds=30,
    )
    async with running(worker):
        await _until(lambda: len(worker.inflight) == 5)
        release.set()
        await _until(lambda: not worker.inflight)
        assert not worker.inflight
        assert [1, 2, 3, 4, 5] in queue.batches  # one claim finished all five
        assert queue.results == {1: {}, 2: {}, 4: {"result": {"answer": 42}}, 5: {"chat_reply": {"content": "hi"}}}
        rendered = metrics.render()
        assert 'coachbase_jobs_total{kind="noop",outcome="succeeded"} 2' in rendered
        assert 'coachbase_jobs_total{kind="noop",outcome="lease_lost"} 1' in rendered
        assert 'coachbase_jobs_total{kind="chat",outcome="succeeded"} 1' in rendered


async def test_a_claim_finishes_at_most_max_finish_chars_of_items_and_the_rest_go_at_once() -> None:
    # Five long replies finished together (as after an outage): no claim carries more than the limit
    # (a body the API would refuse fails every job in it), and the rest do not wait for the sweep.
    queue = MemoryQueue()
    queue.due = [row(n) for n in range(1, 6)]
    release = asyncio.Event()
    text = "x" * (MAX_REQUEST_CHARS // 3)

    async def long_reply(job: Job, ctx: JobContext) -> None:
        await release.wait()
        await ctx.finish(chat_reply={"content": text})

    worker = Worker(queue=queue, handlers={"noop": long_reply}, metrics=Metrics(), concurrency=5, sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: len(worker.inflight) == 5)
        release.set()
        await _until(lambda: not worker.inflight)
        assert not worker.inflight  # all finished well before the 30 s sweep
    assert sorted(job for batch in queue.batches for job in batch) == [1, 2, 3, 4, 5]
    assert len(queue.batches) >= 3 and all(len(batch) <= 2 for batch in queue.batches)


async def test_a_claim_refused_as_a_whole_fails_the_jobs_it_was_finishing() -> None:
    queue = MemoryQueue()
    queue.due = [row(1)]
    failed: list[tuple[int, str]] = []

    async def fail(job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        failed.append((job_id, error))
        return "dead"

    queue.fail = fail  # type: ignore[method-assign]
    release = asyncio.Event()

    async def noop(job: Job, ctx: JobContext) -> None:
        await release.wait()
        queue.refuse_claims = PermanentError("claim_jobs_v3: 22023 bad item")

    worker = Worker(queue=queue, handlers={"noop": noop}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: bool(worker.inflight))
        release.set()
        await _until(lambda: bool(failed))
        assert failed == [(1, "claim_jobs_v3: 22023 bad item")]  # not retried forever with every claim
        assert not worker.finishing


async def test_a_job_finished_by_a_claim_asks_for_no_other_claim() -> None:
    queue = MemoryQueue()
    queue.due = [row(1)]
    worker = Worker(queue=queue, handlers={"noop": _noop}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: bool(queue.batches))
        await asyncio.sleep(0.1)
        # The claim that took it, and the one that finished it (and took what was due): no third, empty one.
        assert queue.claims == 2


async def test_a_job_that_completes_itself_frees_its_slot_for_the_next_in_line_at_once() -> None:
    queue = MemoryQueue()
    queue.due = [row(1)]
    ran: list[int] = []

    async def completes_itself(job: Job, ctx: JobContext) -> None:
        ran.append(job.id)
        if job.id == 1:  # its own function completed it, and the next job of its ordering key is now due
            queue.due.append(row(2))
            ctx.completed = True

    worker = Worker(queue=queue, handlers={"noop": completes_itself}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: ran == [1, 2])
        assert ran == [1, 2]  # not after the 30 s sweep


async def _noop(job: Job, ctx: JobContext) -> None:
    return None
