"""The worker loop with an in-memory queue: no wake-up is lost while a claim is in flight, and finished
jobs go out together with the next claim, each with its output and model calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from shared.coalesce import MAX_REQUEST_CHARS
from shared.errors import PermanentError, TransientError
from shared.llm.base import Usage
from shared.models import Job
from workers import runtime
from workers.kinds.base import Finished, JobContext, ModelCall, recorded
from workers.metrics import Metrics
from workers.queue import Claimed, LeaseLost, Snapshot
from workers.runtime import Worker


class Output(BaseModel):
    text: str = ""


def finished(text: str = "") -> Finished:
    return Finished(Output(text=text), (ModelCall("m", "p@v1", Usage(input_tokens=3, output_tokens=1)),))


class MemoryQueue:
    """Just enough of workers.queue.JobQueue: due rows, and a hook that runs inside the next claim."""

    worker_id = "memory"

    def __init__(self) -> None:
        self.due: list[dict[str, Any]] = []
        self.claims = 0
        self.batches: list[list[int]] = []  # the finished ids of each claim that had some
        self.orders: list[list[int]] = []  # the same, in the order the claim listed them
        self.results: dict[int, Any] = {}  # what each finished job was finished with
        self.lost: set[int] = set()  # jobs whose lease "another worker" took
        self.refuse_claims: PermanentError | None = None
        self.refuse_items: dict[int, list[Exception]] = {}  # per job: refusals of its next finishes, in turn
        self.failed: list[int] = []
        self.spent: dict[int, list[dict[str, Any]]] = {}  # the model calls of attempts that did not finish
        self.spent_outage = 0  # record_spent requests that fail before one gets through
        self.during_claim: Callable[[], Awaitable[None]] | None = None
        self.snapshot: Snapshot | None = None  # what each claim says it saw
        self.refuse_extends = False  # the lease is gone: extend raises LeaseLost
        self.released: list[int] = []
        self.failing: Callable[[], Awaitable[None]] | None = None  # runs inside fail, before it returns

    async def claim(
        self, kinds: list[str], limit: int, lease_seconds: int, finish: list[dict[str, Any]] | None = None
    ) -> Claimed:
        self.claims += 1
        if self.refuse_claims is not None:
            raise self.refuse_claims
        if finish:
            self.batches.append(sorted(item["id"] for item in finish))
            self.orders.append([item["id"] for item in finish])
        outcomes: dict[int, Exception | None] = {}
        for item in finish or []:
            if item["id"] in self.lost:
                outcomes[item["id"]] = LeaseLost(f"job {item['id']}: lease lost")
            elif self.refuse_items.get(item["id"]):
                outcomes[item["id"]] = self.refuse_items[item["id"]].pop(0)
            else:
                outcomes[item["id"]] = None
                self.results[item["id"]] = {k: v for k, v in item.items() if k != "id"}
        rows, self.due = self.due[:limit], self.due[limit:]
        hook, self.during_claim = self.during_claim, None
        if hook is not None:
            await hook()
        return Claimed(rows, outcomes, self.snapshot)

    async def extend(self, job: Job, lease_seconds: int) -> None:
        if self.refuse_extends:
            raise LeaseLost(f"job {job.id}: lease lost")

    async def release(self, job: Job) -> None:
        self.released.append(job.id)

    async def record_spent(self, job_id: int, usage: list[dict[str, Any]]) -> int:
        if self.spent_outage:
            self.spent_outage -= 1
            raise TransientError("record_spent_calls_v1: 503")
        self.spent.setdefault(job_id, []).extend(usage)
        return len(usage)

    async def fail(self, job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        self.failed.append(job_id)
        if self.failing is not None:
            await self.failing()
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
    return {"id": job_id, "kind": "noop", "payload": {}, "attempts": 1, "max_attempts": 3, "context": {}}


async def test_a_job_inserted_while_a_claim_is_in_flight_is_claimed_at_once() -> None:
    queue = MemoryQueue()
    done = asyncio.Event()

    async def handler(job: Job, ctx: JobContext) -> Finished:
        done.set()
        return finished()

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


async def test_a_wake_up_that_arrives_before_its_jobs_are_visible_is_not_lost() -> None:
    """The database's wake-up can outrun the visibility of its transaction: the claim it causes finds
    nothing, so the worker looks once more a moment later instead of waiting for the sweep."""
    queue = MemoryQueue()
    done = asyncio.Event()

    async def handler(job: Job, ctx: JobContext) -> Finished:
        done.set()
        return finished()

    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]

    async def becomes_visible_after_the_claim() -> None:
        queue.due.append(row(1))

    async with running(worker):
        await asyncio.sleep(0.05)
        queue.during_claim = becomes_visible_after_the_claim
        worker.nudge()
        await asyncio.wait_for(done.wait(), 2)  # not the 30 s sweep
    assert queue.claims >= 3  # the first sweep, the nudge's claim (nothing yet), the look after it


@pytest.mark.parametrize(
    ("snapshot", "looks_again"),
    [
        ("100:105:", False),  # it saw transaction 101: another worker took the work
        ("90:95:", True),  # began before 101 committed
        ("100:105:101", True),  # 101 was still running (its commit streamed, not yet visible)
        (None, True),  # a claim that says nothing (an older database)
    ],
)
async def test_a_claim_that_found_nothing_looks_again_only_if_it_did_not_see_the_wake_ups_transaction(
    snapshot: str | None, looks_again: bool
) -> None:
    """Every worker hears every wake-up and one takes the work: the others' claims find nothing. Only a
    claim whose snapshot did not yet see the transaction that queued the work looks again."""
    queue = MemoryQueue()
    queue.snapshot = Snapshot.parse(snapshot)

    async def handler(job: Job, ctx: JobContext) -> Finished:
        return finished()

    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: queue.claims == 1)  # the first sweep
        worker.nudge(101)
        await _until(lambda: queue.claims == 2)
        await asyncio.sleep(worker.recheck_seconds + 0.1)
    assert queue.claims == (3 if looks_again else 2)


def test_a_snapshot_sees_what_committed_before_it() -> None:
    seen = Snapshot.parse("100:105:101,103")
    assert seen == Snapshot(100, 105, frozenset({101, 103}))
    assert [xid for xid in range(98, 107) if seen.sees(xid)] == [98, 99, 100, 102, 104]
    assert Snapshot.parse("100:100:") == Snapshot(100, 100, frozenset())
    assert Snapshot.parse("not a snapshot") is None and Snapshot.parse(None) is None


async def test_finished_jobs_go_out_together_with_the_next_claim() -> None:
    queue = MemoryQueue()
    queue.due = [row(1), row(2), row(3), {**row(4), "kind": "other"}, {**row(5), "kind": "other"}]
    queue.lost = {3}
    release = asyncio.Event()

    async def noop(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        return finished()

    async def other(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        return finished(f"job {job.id}")

    metrics = Metrics()
    worker = Worker(
        queue=queue,  # type: ignore[arg-type]
        handlers={"noop": noop, "other": other},
        metrics=metrics,
        concurrency=5,  # all slots taken: the finished jobs still go out (a claim of 0)
        sweep_seconds=30,
    )
    async with running(worker):
        await _until(lambda: len(worker.inflight) == 5)
        release.set()
        await _until(lambda: not worker.inflight and 3 in queue.spent)
        assert not worker.inflight
        assert [1, 2, 3, 4, 5] in queue.batches  # one claim finished all five
        call = {"model": "m", "prompt_version": "p@v1", "input_tokens": 3, "output_tokens": 1}
        call |= {"cache_read_tokens": 0, "cache_write_tokens": 0}
        assert {job: (r["output"], _without_ids(r["usage"])) for job, r in queue.results.items()} == {
            1: ({"text": ""}, [call]),
            2: ({"text": ""}, [call]),
            4: ({"text": "job 4"}, [call]),
            5: ({"text": "job 5"}, [call]),
        }
        assert _without_ids(queue.spent[3]) == [call]  # the lost job's call was paid for: the ledger gets it
        assert len({u["call_id"] for r in queue.results.values() for u in r["usage"]}) == 4
        rendered = metrics.render()
        assert 'coachbase_jobs_total{kind="noop",outcome="succeeded"} 2' in rendered
        assert 'coachbase_jobs_total{kind="noop",outcome="lease_lost"} 1' in rendered
        assert 'coachbase_jobs_total{kind="other",outcome="succeeded"} 2' in rendered
        assert 'coachbase_llm_tokens_total{kind="other",type="input"} 6' in rendered  # lost jobs count nothing


async def test_a_request_finishes_its_jobs_by_user_then_job_so_two_cannot_deadlock() -> None:
    """A finish locks its user's usage counters until the request commits: requests that list the jobs of
    the same users in different orders could each hold what the other waits for."""
    queue = MemoryQueue()
    users = {5: "b", 6: "a", 7: None, 8: "a", 9: "b"}
    queue.due = [{**row(job_id), "user_id": user} for job_id, user in users.items()]
    release = asyncio.Event()
    urgent = {15: "b", 16: "a", 17: None}

    async def noop(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        return finished()

    async def now(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        return Finished(Output(), urgent=True)

    worker = Worker(
        queue=queue,  # type: ignore[arg-type]
        handlers={"noop": noop, "now": now},
        metrics=Metrics(),
        concurrency=8,
        sweep_seconds=30,
    )
    async with running(worker):
        await _until(lambda: len(worker.inflight) == 5)
        queue.due = [{**row(job_id), "kind": "now", "user_id": user} for job_id, user in urgent.items()]
        worker.wake()
        await _until(lambda: len(worker.inflight) == 8)
        release.set()
        await _until(lambda: not worker.inflight)
    assert sorted(queue.results) == [5, 6, 7, 8, 9, 15, 16, 17]
    everyone = {**users, **urgent}
    assert any(len({everyone[job_id] for job_id in order}) == 3 for order in queue.orders)  # a claim, an urgent one
    for order in queue.orders:  # each request: jobs of no user, then user a's, then b's; each by id
        assert order == sorted(order, key=lambda job_id: (everyone[job_id] or "", job_id))


async def test_a_claim_finishes_at_most_max_finish_chars_of_items_and_the_rest_go_at_once() -> None:
    # Five long replies finished together (as after an outage): no claim carries more than the limit
    # (a body the API would refuse fails every job in it), and the rest do not wait for the sweep.
    queue = MemoryQueue()
    queue.due = [row(n) for n in range(1, 6)]
    release = asyncio.Event()
    text = "x" * (MAX_REQUEST_CHARS // 3)

    async def long_reply(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        return finished(text)

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

    async def noop(job: Job, ctx: JobContext) -> Finished:
        await release.wait()
        queue.refuse_claims = PermanentError("claim_jobs_v4: 22023 bad item")
        return finished()

    worker = Worker(queue=queue, handlers={"noop": noop}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: bool(worker.inflight))
        release.set()
        await _until(lambda: bool(failed))
        assert failed == [(1, "claim_jobs_v4: 22023 bad item")]  # not retried forever with every claim
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


async def test_a_failed_job_frees_its_slot_for_the_next_in_line_at_once() -> None:
    queue = MemoryQueue()
    queue.due = [row(1)]
    ran: list[int] = []

    async def fails_first(job: Job, ctx: JobContext) -> Finished:
        ran.append(job.id)
        if job.id == 1:  # its failure is recorded, and the next job of its ordering key is now due
            queue.due.append(row(2))
            raise PermanentError("no")
        return finished()

    worker = Worker(queue=queue, handlers={"noop": fails_first}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: ran == [1, 2])
        assert ran == [1, 2]  # not after the 30 s sweep


async def test_a_job_whose_context_failed_is_failed_with_that_error() -> None:
    queue = MemoryQueue()
    queue.due = [{**row(1), "context": None, "context_error": {"code": "PT404", "message": "the message is gone"}}]
    failed: list[tuple[int, str, bool]] = []

    async def fail(job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        failed.append((job_id, error, retryable))
        return "dead"

    queue.fail = fail  # type: ignore[method-assign]
    worker = Worker(queue=queue, handlers={"noop": _noop}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: bool(failed))
    assert failed == [(1, "context of job 1: PT404 the message is gone", False)]


async def _noop(job: Job, ctx: JobContext) -> Finished:
    return finished()


async def test_a_finish_refused_for_a_passing_reason_is_sent_again_without_running_the_job_again() -> None:
    """A deadlock (40P01) inside the claim rolls back that job's finish alone: the worker sends the same
    output again instead of failing the job, which would ask the model again."""
    queue = MemoryQueue()
    runs: list[int] = []

    async def handler(job: Job, ctx: JobContext) -> Finished:
        runs.append(job.id)
        return finished("once")

    deadlock = TransientError("finishing job 1: 40P01 deadlock detected")
    queue.refuse_items = {1: [deadlock, deadlock], 2: [deadlock, deadlock, deadlock]}
    queue.due = [row(1), row(2)]
    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: 1 in queue.results and 2 in queue.failed and 2 in queue.spent)
    assert sorted(runs) == [1, 2]  # each handler ran once
    assert queue.results[1]["output"] == {"text": "once"}  # finished on the third try
    assert 2 not in queue.results and queue.failed == [2]  # refused every time: failed as before, to be retried
    assert len(queue.spent[2]) == 1 and 1 not in queue.spent  # its call is in the ledger all the same


def _without_ids(usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in call.items() if k != "call_id"} for call in usage]


async def test_every_model_call_of_an_attempt_reaches_the_ledger_however_it_ends() -> None:
    """A call the output does not name goes with the finish (first: the output's own call stamps it); an
    attempt that fails records the calls it made; a call a tool step recorded is not sent again."""
    queue = MemoryQueue()
    queue.due = [row(1), row(2)]

    async def handler(job: Job, ctx: JobContext) -> Finished:
        ModelCall("m", "p@v1", Usage(input_tokens=7))  # made, not named by the output (a reply then withheld)
        recorded(ModelCall("m", "p@v1", Usage(input_tokens=9)))  # a tool step committed it
        if job.id == 2:
            raise PermanentError("the output stayed invalid")
        return finished("out")

    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: 1 in queue.results and 2 in queue.spent)
    assert [u["input_tokens"] for u in queue.results[1]["usage"]] == [7, 3]  # the spare call, then the output's
    assert [u["input_tokens"] for u in queue.spent[2]] == [7] and 1 not in queue.spent
    assert queue.failed == [2]


async def test_the_calls_of_a_failed_attempt_are_sent_again_through_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "SPENT_RETRY_SECONDS", (0.01, 0.01))
    queue = MemoryQueue()
    queue.due = [row(1)]
    queue.spent_outage = 2  # the gateway is away for the first two tries

    async def handler(job: Job, ctx: JobContext) -> Finished:
        ModelCall("m", "p@v1", Usage(input_tokens=5))
        raise TransientError("the model's stream broke")

    worker = Worker(queue=queue, handlers={"noop": handler}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    async with running(worker):
        await _until(lambda: 1 in queue.spent)
    assert [u["input_tokens"] for u in queue.spent[1]] == [5]


async def test_a_job_this_worker_still_runs_is_not_run_twice_when_a_claim_hands_it_back() -> None:
    """Its lease ran out under the run (heartbeats failed through an outage) and the claim gave it back to
    the same worker: one run goes on, not two (two would stream and pay for the reply twice)."""
    queue = MemoryQueue()
    runs: list[int] = []
    go_on = asyncio.Event()

    async def slow(job: Job, ctx: JobContext) -> Finished:
        runs.append(job.attempts)
        await go_on.wait()
        return finished()

    worker = Worker(queue=queue, handlers={"noop": slow}, metrics=Metrics(), sweep_seconds=30)  # type: ignore[arg-type]
    queue.due.append(row(1))
    async with running(worker):
        await _until(lambda: bool(runs))
        queue.due.append({**row(1), "attempts": 2})
        worker.wake()
        await _until(lambda: not queue.due)
        await asyncio.sleep(0.05)
        assert runs == [1] and set(worker.inflight) == {1}
        go_on.set()
        await _until(lambda: bool(queue.batches))
    assert queue.batches == [[1]] and runs == [1]


async def test_a_lease_refused_while_the_failure_is_recorded_leaves_it_failed_with_its_calls_spent() -> None:
    """The failure's record ends the lease; a heartbeat refused then must not cancel the recording, count the
    job as succeeded, or lose the attempt's model calls."""
    queue = MemoryQueue()

    async def breaks(job: Job, ctx: JobContext) -> Finished:
        ModelCall("m", "p@v1", Usage(input_tokens=7, output_tokens=2))  # made and paid for
        raise TransientError("the model went away")

    async def lease_ends_meanwhile() -> None:
        queue.refuse_extends = True
        await asyncio.sleep(0.5)  # a heartbeat (every 1/3 s) comes and is refused

    queue.failing = lease_ends_meanwhile
    worker = Worker(queue=queue, handlers={"noop": breaks}, metrics=Metrics(), lease_seconds=1, sweep_seconds=30)  # type: ignore[arg-type]
    queue.due.append(row(1))
    async with running(worker):
        await _until(lambda: bool(queue.spent))
    assert queue.failed == [1] and queue.released == []
    assert [call["input_tokens"] for call in queue.spent[1]] == [7]


async def test_a_lease_refused_while_the_finish_commits_does_not_cancel_the_finished_job() -> None:
    """The finish itself ends the lease: a heartbeat refused while its claim is on the way must leave the job
    to learn its fate from the claim (committed), not cancel and release it."""
    queue = MemoryQueue()
    fates: list[bool] = []

    async def committing_slowly() -> None:
        queue.refuse_extends = True
        await asyncio.sleep(0.5)  # a heartbeat (every 1/3 s) comes and is refused

    async def done(job: Job, ctx: JobContext) -> Finished:
        queue.during_claim = committing_slowly  # the next claim: the one that carries the finish
        return Finished(Output(text="ok"), then=fates.append)

    worker = Worker(queue=queue, handlers={"noop": done}, metrics=Metrics(), lease_seconds=1, sweep_seconds=30)  # type: ignore[arg-type]
    queue.due.append(row(1))
    async with running(worker):
        await _until(lambda: bool(fates))
    assert fates == [True] and queue.released == [] and queue.batches == [[1]]
