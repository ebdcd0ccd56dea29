"""The worker loop: claim due jobs, run them with bounded concurrency under a lease, record outcomes.

Wake-ups come from Realtime (job inserts) and from a periodic sweep, so a lost event only delays work.
Every outcome is written back through the queue functions: success, retry with backoff, or dead. A
handler returns its job's output (workers/kinds/base.py: `Finished`); the output goes out with the next
claim (claim_jobs_v4), which finishes it through the kind's finish function: one request and one commit
for everything finished since the last, sent at once when no claim is in flight.

A request finishes its jobs in the order it lists them, and a finish locks its user's rows (the usage
counters above all) until the request commits. So every request lists them in one order, by user and then
job: two requests finishing jobs of the same two users (two workers' claims, or a claim and an urgent
finish) then lock those users' rows in the same order and cannot deadlock, which would hold both for
Postgres's deadlock_timeout (1 s) before one of them is refused and sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.coalesce import Coalescer, fitting
from shared.errors import PermanentError, TransientError
from shared.models import Job
from workers.kinds.base import Finished, Handler, JobContext, Spending
from workers.metrics import Metrics
from workers.queue import JobQueue, LeaseLost, Snapshot, error_for

log = logging.getLogger("workers.runtime")

# A finished job's output refused for a passing reason is sent this many times in all, waiting this long
# (doubling) between tries.
FINISH_ATTEMPTS = 3
FINISH_RETRY_SECONDS = 0.05

# Urgent finishes (the safety decisions every reply waits for) in flight at once. With one, a decision
# made while a request is under way waited for it to commit, then went in the next, larger batch: at 100
# conversations ~10 ms at the mean and ~28 ms at p90 before its request was even sent. Requests that run
# together lock their users' rows in one order (above), as two workers' requests always could.
URGENT_CALLS = 4

# The model calls of an attempt that did not finish are sent to the ledger at once, then after these
# pauses while that fails (an outage of the gateway or Postgres is when most attempts fail): about a
# minute in all, longer than a restart of either takes (`make chaos`: a few seconds).
SPENT_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

# Finished jobs by id: the claim_jobs_v4 item that finishes each, and the future its handler awaits.
Finishing = dict[int, tuple[dict[str, Any], asyncio.Future[Exception | None]]]


def lock_order(job: Job) -> tuple[str, int]:
    """Where a finish of `job` goes in a request: by user (jobs of no user first), then by job."""
    return (job.user_id or "", job.id)


def _saw_all(seen: Snapshot | None, xids: list[int | None]) -> bool:
    """Whether a claim's snapshot saw every transaction in `xids` (None: a wake-up that did not say which)."""
    return all(seen is not None and xid is not None and seen.sees(xid) for xid in xids)


@dataclass
class Worker:
    queue: JobQueue
    handlers: dict[str, Handler]
    metrics: Metrics
    concurrency: int = 16
    lease_seconds: int = 60
    sweep_seconds: float = 5.0
    shutdown_grace: float = 20.0
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    # Finished jobs waiting to go out with the next claim.
    finishing: Finishing = field(default_factory=dict)
    last_claim_ok: float = field(default_factory=time.monotonic)
    # Whether the last claim may have left due jobs for want of a slot. If not, a job finished through a
    # claim does not ask for another: that claim already took what was due, the next job in its ordering
    # key included.
    slot_wanted: bool = False
    _urgent: Coalescer[dict[str, Any], Exception | None] | None = None
    _recording: set[asyncio.Task[None]] = field(default_factory=set)  # spent calls on their way to the ledger
    # Each finishing job's place in a request (lock_order), while it is finishing.
    _order: dict[int, tuple[str, int]] = field(default_factory=dict)

    # A wake-up from the database can arrive before its transaction is visible to other sessions (the
    # commit is streamed first): a claim it causes that finds nothing, and whose snapshot did not see that
    # transaction yet, looks again once, this much later.
    recheck_seconds: float = 0.02
    _woken_by: list[int | None] = field(default_factory=list)  # since the last claim; None: not said

    def wake(self) -> None:
        self.wake_event.set()

    def nudge(self, xid: int | None = None) -> None:
        """A wake-up from the database (workers:jobs) for the work that transaction `xid` queued: claim now, and
        once more if that finds nothing before the transaction was visible (another worker may have taken
        the work: every worker hears every wake-up)."""
        self._woken_by.append(xid)
        self.wake_event.set()

    @property
    def healthy(self) -> bool:
        return time.monotonic() - self.last_claim_ok < max(3 * self.sweep_seconds, 30)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set, then finish or release what is in flight."""
        kinds = sorted(self.handlers)
        log.info("worker started", extra={"worker": self.queue.worker_id, "kinds": kinds})
        failures = 0
        while not stop.is_set():
            # Cleared before claiming, not before waiting: a wake-up that arrives while the claim is in
            # flight (a job inserted after the claim's snapshot) must make the next wait return at once.
            self.wake_event.clear()
            woken_by, self._woken_by = self._woken_by, []
            free = self.concurrency - len(self.inflight)
            claimed, seen = 0, None
            if free > 0 or self.finishing:  # finished jobs still hold their slots: claim 0 to finish them
                try:
                    claimed, seen = await self._claim(kinds, max(free, 0))
                    failures, self.last_claim_ok = 0, time.monotonic()
                except (TransientError, PermanentError) as exc:
                    failures += 1
                    log.warning("claim failed", extra={"error": str(exc), "consecutive": failures})
                if claimed == 0 and free > 0 and not _saw_all(seen, woken_by):
                    asyncio.get_running_loop().call_later(self.recheck_seconds, self.wake)
            # Every free slot filled (or none to fill): due jobs may be left behind, so a freed slot claims.
            self.slot_wanted = free <= 0 or claimed == free
            if free > 0 and claimed == free:
                continue  # more may be waiting
            await self._wait(stop, self.sweep_seconds if failures == 0 else min(2.0**failures, 30.0))
        await self._drain()

    async def _claim(self, kinds: list[str], free: int) -> tuple[int, Snapshot | None]:
        """Claim up to `free` jobs (and finish what is finished): how many, and the snapshot the claim saw."""
        finishing = self._finish_batch()
        if len(finishing) < len(self.finishing):
            self.wake()  # the rest go with the claim right after this one
        try:
            rows, finished, seen = await self.queue.claim(
                kinds, free, self.lease_seconds, finish=[item for item, _ in finishing.values()]
            )
        except PermanentError as exc:
            # Refused as a whole (not one item): the same request would be refused again, so the jobs it
            # was finishing fail with the error instead of blocking every later claim.
            self._settle(finishing, dict.fromkeys(finishing, exc))
            raise
        self._settle(finishing, finished)
        for row in rows:
            try:
                job = Job.model_validate(row)
            except ValidationError as exc:  # not even a job row: nothing to run, mark it dead
                log.error("malformed job row", extra={"row": str(row)[:500], "error": str(exc)})
                if isinstance(row, dict) and isinstance(row.get("id"), int):
                    with contextlib.suppress(Exception):
                        await self.queue.fail(row["id"], f"malformed job row: {exc}", retryable=False)
                continue
            if job.id in self.inflight:
                # Its lease ran out while this worker still runs it (heartbeats failed through an outage),
                # and the claim gave it back to this worker: the run under way holds the lease again.
                log.warning("claimed a job this worker is still running; the run under way goes on",
                            extra={"job_id": job.id, "attempt": job.attempts})  # fmt: skip
                continue
            self.inflight[job.id] = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
        return len(rows), seen

    def _finish_batch(self) -> Finishing:
        """What the next claim finishes: every finished job, up to MAX_REQUEST_CHARS of items (at least one).

        A claim refused as a whole fails every job it was finishing; after an outage many long replies
        can be waiting, and a request body over the API gateway's limit would be refused for its size."""
        count = fitting(len(json.dumps(item)) for item, _ in self.finishing.values())
        batch = list(itertools.islice(self.finishing.items(), count))
        return dict(sorted(batch, key=lambda entry: self._place(entry[0])))

    def _place(self, job_id: int) -> tuple[str, int]:
        """A finishing job's place in a request (lock_order)."""
        return self._order.get(job_id, ("", job_id))

    def _settle(
        self,
        finishing: Finishing,
        outcomes: dict[int, Exception | None],
    ) -> None:
        """Hand each finished job's outcome to its handler: None, or what refused it."""
        for job_id, (_, outcome) in finishing.items():
            self.finishing.pop(job_id, None)
            if not outcome.done():
                outcome.set_result(outcomes.get(job_id, LeaseLost(f"job {job_id}: not finished by the claim")))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.create_task(self.wake_event.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _execute(self, job: Job) -> None:
        started = time.monotonic()
        ctx = JobContext(job=job, queue=self.queue, metrics=self.metrics)
        heartbeat = asyncio.create_task(self._heartbeat(job))
        fields = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
        log.info("job started", extra=fields)
        outcome = "succeeded"
        finished_by_claim = False
        spending = Spending()  # every model call of this attempt reaches the ledger, however it ends
        try:
            if job.context_error is not None or job.context is None:
                error = job.context_error or {"code": "22023", "message": "the claim returned no context"}
                raise error_for(str(error.get("code", "")), str(error.get("message", "")), f"context of job {job.id}")
            with spending.current():
                finished = await self.handlers[job.kind](job, ctx)
            try:
                await self._finish_output(job, finished, spending)
            except BaseException:
                if finished.then is not None:
                    finished.then(False)
                raise
            finished_by_claim = True  # (or at once: its end makes nothing due either)
            if finished.then is not None:
                finished.then(True)
            self._count_tokens(job, finished)
        except LeaseLost as exc:
            outcome = "lease_lost"
            log.warning("lease lost; another worker owns the job now", extra={**fields, "error": str(exc)})
        except asyncio.CancelledError:
            outcome = "released"
            with contextlib.suppress(Exception):
                await asyncio.shield(self.queue.release(job))
            raise
        except Exception as exc:
            # Not succeeded, whatever interrupts the recording; the lease no longer matters (a heartbeat
            # refused now, once the failure is recorded, must not cancel this), and the recording goes on
            # if the drain cancels this task meanwhile.
            heartbeat.cancel()
            outcome = "failed"
            outcome = await asyncio.shield(self._record_failure(job, exc, fields))
        finally:
            heartbeat.cancel()
            if outcome != "succeeded":  # its model calls were paid for all the same
                self._record_spent(job, spending, fields)
            self.inflight.pop(job.id, None)
            elapsed = time.monotonic() - started
            self.metrics.inc("coachbase_jobs_total", kind=job.kind, outcome=outcome)
            self.metrics.observe("coachbase_job_seconds", elapsed, kind=job.kind)
            log.info("job finished", extra={**fields, "outcome": outcome, "seconds": round(elapsed, 3)})
            # A slot is free. Claim again if jobs may be waiting for one, or if this job ended some other
            # way (a failure): its end can make a job due (the next in its ordering key).
            if self.slot_wanted or not finished_by_claim:
                self.wake()

    def _count_tokens(self, job: Job, finished: Finished) -> None:
        for call in finished.calls:
            for kind, value in (
                ("input", call.usage.input_tokens),
                ("output", call.usage.output_tokens),
                ("cache_read", call.usage.cache_read_tokens),
                ("cache_write", call.usage.cache_write_tokens),
            ):
                self.metrics.inc("coachbase_llm_tokens_total", value, kind=job.kind, type=kind)

    async def _finish_output(self, job: Job, finished: Finished, spending: Spending) -> None:
        """Finish `job` with its output and the attempt's model calls not yet recorded (with the next claim,
        or at once when urgent). A finish refused for a passing reason (a deadlock or serialization failure,
        SQLSTATE class 40, rolled back on its own in the claim) is sent again: the output is computed and paid
        for, and running the job again would ask the model again. Raises the refusal that remains."""
        item = finished.item(job.id, spending.unrecorded())
        self._order[job.id] = lock_order(job)
        try:
            for attempt in range(1, FINISH_ATTEMPTS + 1):
                try:
                    if finished.urgent:
                        await self._finish_now(job, item)
                    else:
                        await self._finish(job, item)
                    return
                except TransientError as exc:
                    if attempt == FINISH_ATTEMPTS:
                        raise
                    log.warning(
                        "finish refused for now; sending it again",
                        extra={"job_id": job.id, "attempt": attempt, "error": str(exc)},
                    )
                    await asyncio.sleep(FINISH_RETRY_SECONDS * 2 ** (attempt - 1))
        finally:
            self._order.pop(job.id, None)

    async def _finish(self, job: Job, item: dict[str, Any]) -> None:
        """Finish `job` with the next claim (one commit for all finished since the last); raise its refusal."""
        outcome: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.finishing[job.id] = ({"id": job.id, **item}, outcome)
        self.wake()
        try:
            error = await outcome
        finally:
            self.finishing.pop(job.id, None)
        if error is not None:
            raise error

    async def _finish_now(self, job: Job, item: dict[str, Any]) -> None:
        """Finish `job` at once, without waiting for the next claim (in a request of its own, or with the
        urgent jobs finished meanwhile when URGENT_CALLS are under way); raise its refusal."""
        if self._urgent is None:
            self._urgent = Coalescer(
                self._send_urgent,
                _not_finished,
                max_items=100,
                size=lambda i: len(json.dumps(i)),
                name="urgent",
                calls=URGENT_CALLS,
            )
        error = await self._urgent.submit({"id": job.id, **item})
        if error is not None:
            raise error

    async def _send_urgent(self, items: list[dict[str, Any]]) -> list[Exception | None]:
        ordered = sorted(items, key=lambda item: self._place(item["id"]))
        outcomes = (await self.queue.claim([], 0, self.lease_seconds, finish=ordered)).finished
        return [outcomes.get(item["id"], _not_finished(item, None)) for item in items]

    def _record_spent(self, job: Job, spending: Spending, fields: dict[str, Any]) -> None:
        """The model calls of an attempt that did not finish go to the ledger all the same (they were paid),
        in the background: attempts fail most while the gateway or Postgres is away, so it tries again."""
        usage = [call.as_json() for call in spending.unrecorded()]
        if usage:
            task = asyncio.create_task(self._send_spent(job.id, usage, fields), name=f"spent-{job.id}")
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)

    async def _send_spent(self, job_id: int, usage: list[dict[str, Any]], fields: dict[str, Any]) -> None:
        error: Exception | None = None
        chunks = [usage[i : i + 100] for i in range(0, len(usage), 100)]
        for delay in (0.0, *SPENT_RETRY_SECONDS):
            await asyncio.sleep(delay)
            try:
                new = sum([await self.queue.record_spent(job_id, chunk) for chunk in chunks])
            except Exception as exc:  # a call already recorded is skipped: sending them again is safe
                error = exc
                continue
            log.info("model calls of an attempt that did not finish recorded", extra={**fields, "calls": new})
            return
        log.warning("the ledger misses the model calls of an attempt", extra={**fields, "error": repr(error)})

    async def _record_failure(self, job: Job, exc: Exception, fields: dict[str, Any]) -> str:
        retryable, retry_after = True, None
        if isinstance(exc, ValidationError):
            retryable, reason = False, f"malformed payload: {exc.error_count()} error(s): {exc.errors()[:3]}"
        elif isinstance(exc, PermanentError):
            retryable, reason = False, str(exc)
        elif isinstance(exc, TransientError):
            retry_after, reason = exc.retry_after, str(exc)
        else:
            log.exception("job crashed", extra=fields)
            reason = f"unexpected {type(exc).__name__}: {exc}"
        try:
            status = await self.queue.fail(job.id, reason, retryable=retryable, retry_after=retry_after)
        except LeaseLost:
            return "lease_lost"
        except Exception as fail_exc:
            log.error("could not record the failure", extra={**fields, "error": repr(fail_exc)})
            return "unrecorded"
        log.warning("job failed", extra={**fields, "status": status, "error": reason[:300]})
        return status

    async def _heartbeat(self, job: Job) -> None:
        """Extend the lease at a third of its length while the handler runs."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.queue.extend(job, self.lease_seconds)
            except LeaseLost:
                if job.id in self._order:  # being finished: the finish learns its own fate (it may have
                    return  # committed just now, which is what ended the lease)
                log.warning("lease lost during heartbeat; cancelling", extra={"job_id": job.id})
                task = self.inflight.get(job.id)
                if task is not None:
                    task.cancel()
                return
            except Exception as exc:
                log.warning("heartbeat failed", extra={"job_id": job.id, "error": repr(exc)})

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.shutdown_grace
        await self._drain_jobs(deadline)
        if self._recording:  # model calls of attempts that did not finish, on their way to the ledger
            _, late = await asyncio.wait(set(self._recording), timeout=max(0.5, deadline - time.monotonic()))
            for task in late:
                task.cancel()

    async def _drain_jobs(self, deadline: float) -> None:
        if not self.inflight:
            return
        log.info("shutting down: finishing in-flight jobs", extra={"jobs": len(self.inflight)})
        pending = set(self.inflight.values())
        while pending and time.monotonic() < deadline:
            if self.finishing:
                with contextlib.suppress(Exception):
                    await self._claim([], 0)
            _, pending = await asyncio.wait(pending, timeout=min(0.05, max(0.0, deadline - time.monotonic())))
        for task in pending:
            task.cancel()  # releases its job
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.info("released unfinished jobs", extra={"jobs": len(pending)})


def _not_finished(item: dict[str, Any], error: Exception | None) -> Exception:
    """An urgent finish's outcome when its request failed (that error) or its answer lacks it."""
    return error or LeaseLost(f"job {item['id']}: not finished")
