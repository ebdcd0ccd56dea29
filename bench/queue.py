"""Job queue: our SQL functions versus pgqueuer on the same Postgres.

Both queues get the same jobs, the same number of workers (one asyncpg connection each) and the same
batch size. Ours is driven as workers/runtime.py drives it: finished jobs, each with its output, go out
with the next claim (claim_jobs_v4's p_finish: one statement and one commit per batch, each item in its
own subtransaction through its kind's finish function; every kind finishes this way), and, for
comparison, with one claim call per finished job (what a worker does when its jobs end one at a time).
The benchmark's kind is registered like any other (internal.job_kinds, a context and a finish
function). pgqueuer runs its
own QueueManager with its own defaults (batched completion log, LISTEN/NOTIFY wake-ups), schema
installed through its Python API. Two phases per queue: a backlog drained as fast as possible
(throughput, claim → complete), and jobs enqueued at a steady rate (enqueue → completed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from pgqueuer import AsyncpgDriver, QueueManager
from pgqueuer.domain.types import QueueExecutionMode
from pgqueuer.models import Job as PgqJob
from pgqueuer.queries import Queries

from bench import Figure, Section, percentile
from bench._stack import PASSWORD, SETTINGS, execute, gateway, postgres, postmaster_pid
from bench.pipeline import PostgresCPU
from devstack.db import role_dsn

JOBS = int(os.environ.get("BENCH_QUEUE_JOBS", "20000"))
WORKERS = int(os.environ.get("BENCH_QUEUE_WORKERS", "4"))
BATCH = int(os.environ.get("BENCH_QUEUE_BATCH", "10"))
RATE = float(os.environ.get("BENCH_QUEUE_RATE", "500"))  # jobs/s in the steady phase
STEADY_JOBS = int(os.environ.get("BENCH_QUEUE_STEADY_JOBS", str(min(JOBS, 5000))))
REST_JOBS = int(os.environ.get("BENCH_QUEUE_REST_JOBS", str(min(JOBS, 4000))))
ROUNDS = int(os.environ.get("BENCH_QUEUE_ROUNDS", "2"))
KIND = "bench_job"
OURS = "ours, each job finished by a claim of its own (claim_jobs_v4): drain backlog, claim → complete"
OURS_BATCHED = "ours, outputs finished with the next claim (claim_jobs_v4): drain backlog, claim → complete"
PGQ = "pgqueuer: drain backlog, claim → complete"
OURS_REST = "ours via gateway REST RPC: drain backlog, claim → complete"
DRAINS = (OURS, PGQ, OURS_BATCHED)
CLAIM_AND_FINISH = "select public.claim_jobs_v4($1, $2, $3, 60, $4::jsonb)"
ENQUEUE = "insert into internal.jobs (kind, payload) select $1, p from unnest($2::jsonb[]) p returning id"
# The benchmark's job kind, registered as a kind's migration registers one.
BENCH_KIND = f"""
create function internal.{KIND}_context(p_job internal.jobs) returns jsonb language sql set search_path = ''
  as $$ select p_job.payload $$;
create function internal.{KIND}_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language sql set search_path = '' as $$ select p_output $$;
grant execute on function internal.{KIND}_context(internal.jobs), internal.{KIND}_finish(internal.jobs, jsonb, jsonb)
  to service_role;
insert into internal.job_kinds (name, description, context_function, finish_function) values
  ('{KIND}', 'The queue benchmark''s jobs.', 'internal.{KIND}_context(internal.jobs)',
   'internal.{KIND}_finish(internal.jobs, jsonb, jsonb)');
"""


@contextlib.contextmanager
def stack(tmp: Path, *, with_gateway: bool) -> Iterator[tuple[str, str | None]]:
    """An embedded Postgres with every migration applied (`supabase db reset`) and the benchmark's job kind
    registered, and the gateway if asked."""
    with postgres(tmp) as dsn:
        asyncio.run(execute(dsn, BENCH_KIND))
        if not with_gateway:
            yield dsn, None
            return
        with gateway(dsn, tmp) as (url, _):
            yield dsn, url


@dataclass
class Clock:
    """When each job was enqueued, claimed (the claim call started) and completed (its completion committed)."""

    total: int
    enqueued: dict[int, float] = field(default_factory=dict)
    claimed: dict[int, float] = field(default_factory=dict)
    completed: dict[int, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def complete(self, ids: list[int]) -> None:
        stamp = time.perf_counter()
        for job_id in ids:
            self.completed[job_id] = stamp
        if len(self.completed) >= self.total:
            self.done.set()

    def figure(self, name: str, start: dict[int, float], began: float) -> Figure:
        """Latency from `start` to completion per job; rate over the time from `began` to the last completion."""
        samples = [(self.completed[i] - start[i]) * 1000 for i in self.completed if i in start]
        rate = len(self.completed) / (max(self.completed.values()) - began)
        return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), rate, len(samples))


class Meter:
    """The CPU time Postgres (all its processes) and this process (the workers or managers) spend over a
    drain, per job: steadier than jobs/s on a shared VM, and where a queue's cost lies."""

    def __init__(self, postgres: PostgresCPU) -> None:
        self.postgres, self.me = postgres, psutil.Process()
        self._started = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        return sum(self.postgres.cpu_times()), sum(self.me.cpu_times()[:2])

    def start(self) -> None:
        self._started = self._now()

    def per_job(self, jobs: int) -> tuple[float, float]:
        """(Postgres, this process) CPU µs a job since start()."""
        (postgres_before, me_before), (postgres_now, me_now) = self._started, self._now()
        return 1e6 * (postgres_now - postgres_before) / max(jobs, 1), 1e6 * (me_now - me_before) / max(jobs, 1)


async def _paced(enqueue: Callable[[int], Awaitable[None]], after: Callable[[], None]) -> None:
    """Offer STEADY_JOBS in batches of BATCH on a fixed schedule of RATE jobs/s."""
    began = time.perf_counter()
    for k in range(STEADY_JOBS // BATCH):
        await enqueue(BATCH)
        after()
        delay = began + (k + 1) * BATCH / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


# -- ours ------------------------------------------------------------------------------------------------


async def _service_role(dsn: str) -> asyncpg.Connection:
    """A worker's own connection acting as service_role (the role PostgREST switches to for the service key)."""
    conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    await conn.execute("set role service_role")
    return conn


async def _ours_enqueue(conn: asyncpg.Connection, clock: Clock, count: int) -> None:
    rows = await conn.fetch(ENQUEUE, KIND, [json.dumps({"n": n}) for n in range(count)])
    stamp = time.perf_counter()
    for row in rows:
        clock.enqueued[row["id"]] = stamp


async def _ours_worker(dsn: str, name: str, clock: Clock, wake: asyncio.Event, *, batched: bool = False) -> None:
    """Claim a batch, finish each job; when the queue runs dry, wait for a wake-up (the Realtime insert).

    `batched` drives the queue as workers/runtime.py does: the finished batch, each job with its output,
    goes out with the next claim_jobs_v4 call (one statement, one commit). Otherwise each job is finished
    by a claim call of its own (limit 0), as when a worker's jobs end one at a time.
    """
    conn = await _service_role(dsn)
    finished: list[dict[str, Any]] = []
    try:
        while not clock.done.is_set():
            wake.clear()
            started = time.perf_counter()
            answer = json.loads(await conn.fetchval(CLAIM_AND_FINISH, name, [KIND], BATCH, json.dumps(finished)))
            clock.complete([int(i) for i, error in answer["finished"].items() if error is None])
            jobs = answer["jobs"]
            ids = [int(job["id"]) for job in jobs]
            # The handler's work is instant; each job is finished with an output, as the worker sends it.
            finished = [{"id": job["id"], "output": {"n": job["context"]["n"]}} for job in jobs]
            for job_id in ids:
                clock.claimed[job_id] = started
            if not batched:
                for item in finished:
                    one = json.loads(await conn.fetchval(CLAIM_AND_FINISH, name, [KIND], 0, json.dumps([item])))
                    clock.complete([int(i) for i, error in one["finished"].items() if error is None])
                finished = []
            if len(ids) < BATCH and not finished and not clock.done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), 1.0)
    finally:
        await conn.close()


async def _ours_drain(dsn: str, admin: asyncpg.Connection, meter: Meter, *, batched: bool) -> Drained:
    clock = Clock(JOBS)
    for start in range(0, JOBS, 1000):
        await _ours_enqueue(admin, clock, min(1000, JOBS - start))
    await admin.execute("analyze internal.jobs")
    wakes = [asyncio.Event() for _ in range(WORKERS)]
    meter.start()
    began = time.perf_counter()
    await asyncio.gather(*(_ours_worker(dsn, f"w{i}", clock, w, batched=batched) for i, w in enumerate(wakes)))
    name = OURS_BATCHED if batched else OURS
    return Drained(clock.figure(name, clock.claimed, began), meter.per_job(len(clock.completed)))


async def _ours_steady(dsn: str, admin: asyncpg.Connection) -> Figure:
    clock = Clock(STEADY_JOBS // BATCH * BATCH)
    wakes = [asyncio.Event() for _ in range(WORKERS)]

    def wake_all() -> None:
        for wake in wakes:
            wake.set()

    workers = [asyncio.create_task(_ours_worker(dsn, f"s{i}", clock, w, batched=True)) for i, w in enumerate(wakes)]
    await asyncio.sleep(0.5)  # connected and idle, as pgqueuer's managers are
    began = time.perf_counter()
    await asyncio.gather(_paced(lambda n: _ours_enqueue(admin, clock, n), wake_all), *workers)
    return clock.figure(f"ours: {RATE:.0f} jobs/s offered, enqueue → completed", clock.enqueued, began)


# -- pgqueuer ----------------------------------------------------------------------------------------------


@dataclass
class TimedQueries(Queries):
    """pgqueuer's own queries, observed: when a dequeue started and when a completion batch committed."""

    clock: Clock = field(default_factory=lambda: Clock(0))

    async def dequeue(self, *args: Any, **kwargs: Any) -> list[PgqJob]:
        started = time.perf_counter()
        jobs = await super().dequeue(*args, **kwargs)
        for job in jobs:
            self.clock.claimed[job.id] = started
        return jobs

    async def log_jobs(self, job_status: list[Any]) -> None:
        await super().log_jobs(job_status)
        self.clock.complete([job.id for job, _, _ in job_status])


async def _pgq_enqueue(queries: Queries, clock: Clock, count: int) -> None:
    ids = await queries.enqueue([KIND] * count, [json.dumps({"n": n}).encode() for n in range(count)], [0] * count)
    stamp = time.perf_counter()
    for job_id in ids:
        clock.enqueued[job_id] = stamp


async def _pgq_managers(dsn: str, clock: Clock, connections: list[asyncpg.Connection]) -> list[QueueManager]:
    """One QueueManager per connection, as pgqueuer's own benchmark runs its consumers."""
    managers = []
    for _ in range(WORKERS):
        connections.append(await asyncpg.connect(dsn))
        manager = QueueManager(TimedQueries(AsyncpgDriver(connections[-1]), clock=clock))

        @manager.entrypoint(KIND)
        async def handle(job: PgqJob) -> None:
            return None

        managers.append(manager)
    return managers


async def _pgq_run(managers: list[QueueManager], clock: Clock, mode: QueueExecutionMode) -> None:
    async def stop_when_done() -> None:
        await clock.done.wait()
        for manager in managers:
            manager.shutdown.set()

    waiter = asyncio.create_task(stop_when_done())
    try:
        await asyncio.gather(
            *(m.run(batch_size=BATCH, mode=mode, dequeue_timeout=timedelta(seconds=1)) for m in managers)
        )
    finally:
        waiter.cancel()


async def _pgq_drain(dsn: str, admin: Queries, connections: list[asyncpg.Connection], meter: Meter) -> Drained:
    clock = Clock(JOBS)
    for start in range(0, JOBS, 1000):
        await _pgq_enqueue(admin, clock, min(1000, JOBS - start))
    await admin.driver.execute("analyze pgqueuer")
    managers = await _pgq_managers(dsn, clock, connections)
    meter.start()
    began = time.perf_counter()
    await _pgq_run(managers, clock, QueueExecutionMode.drain)
    return Drained(clock.figure(PGQ, clock.claimed, began), meter.per_job(len(clock.completed)))


async def _pgq_steady(dsn: str, admin: Queries, connections: list[asyncpg.Connection]) -> Figure:
    clock = Clock(STEADY_JOBS // BATCH * BATCH)
    managers = await _pgq_managers(dsn, clock, connections)
    run = asyncio.create_task(_pgq_run(managers, clock, QueueExecutionMode.continuous))
    await asyncio.sleep(0.5)  # let the managers LISTEN first
    began = time.perf_counter()
    await asyncio.gather(_paced(lambda n: _pgq_enqueue(admin, clock, n), lambda: None), run)
    return clock.figure(f"pgqueuer: {RATE:.0f} jobs/s offered, enqueue → completed", clock.enqueued, began)


# -- ours through the gateway --------------------------------------------------------------------------------


async def _rest(dsn: str, url: str) -> Figure:
    """The production path: workers call the same functions as RPCs through /rest/v1 with the service key."""
    admin = await _service_role(dsn)
    clock = Clock(REST_JOBS)
    try:
        await _ours_enqueue(admin, clock, REST_JOBS)
        await admin.execute("analyze internal.jobs")
    finally:
        await admin.close()
    key = SETTINGS.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"{url}/rest/v1/rpc", headers=headers, timeout=30) as http:

        async def worker(name: str) -> None:
            finished: list[dict[str, Any]] = []
            while not clock.done.is_set():
                started = time.perf_counter()
                body = {"p_worker": name, "p_kinds": [KIND], "p_limit": BATCH, "p_lease_seconds": 60}
                answer = (await http.post("/claim_jobs_v4", json={**body, "p_finish": finished})).raise_for_status()
                result = answer.json()
                clock.complete([int(i) for i, error in result["finished"].items() if error is None])
                if not result["jobs"] and not finished:
                    return
                finished = [{"id": job["id"], "output": {"n": job["context"]["n"]}} for job in result["jobs"]]
                for job in result["jobs"]:
                    clock.claimed[job["id"]] = started

        began = time.perf_counter()
        await asyncio.gather(*(worker(f"r{i}") for i in range(WORKERS)))
    return clock.figure(OURS_REST, clock.claimed, began)


@dataclass
class Drained:
    figure: Figure
    cpu_us: tuple[float, float]  # (Postgres, this process) CPU µs a job


async def _all(dsn: str, url: str | None, postgres_cpu: PostgresCPU) -> tuple[list[Figure], dict[str, Drained]]:
    """Drains alternate between the queues for ROUNDS rounds (the machine is shared); the best round counts."""
    admin = await _service_role(dsn)
    connections = [await asyncpg.connect(role_dsn(dsn, "postgres", PASSWORD))]
    meter = Meter(postgres_cpu)
    try:
        pgq = Queries(AsyncpgDriver(connections[0]))
        await pgq.install()
        rounds: list[Drained] = []
        for _ in range(ROUNDS):
            rounds.append(await _ours_drain(dsn, admin, meter, batched=False))
            rounds.append(await _pgq_drain(role_dsn(dsn, "postgres", PASSWORD), pgq, connections, meter))
            rounds.append(await _ours_drain(dsn, admin, meter, batched=True))
        best = {
            name: max((r for r in rounds if r.figure.name == name), key=lambda r: r.figure.throughput or 0)
            for name in DRAINS
        }
        figures = [
            *(best[name].figure for name in DRAINS),
            await _ours_steady(dsn, admin),
            await _pgq_steady(role_dsn(dsn, "postgres", PASSWORD), pgq, connections),
        ]
        if url is not None:
            figures.append(await _rest(dsn, url))
        return figures, best
    finally:
        await admin.close()
        for conn in connections:
            await conn.close()


def run() -> Section:
    with (
        tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp,
        stack(Path(tmp), with_gateway=REST_JOBS > 0) as (dsn, url),
    ):
        figures, drained = asyncio.run(_all(dsn, url, PostgresCPU(postmaster_pid(Path(tmp)))))
    return _section(figures, drained)


def _section(figures: list[Figure], drained: dict[str, Drained]) -> Section:
    ours, pgq, batched, ours_steady, pgq_steady = figures[:5]
    ratio = (ours.throughput or 0) / (pgq.throughput or 1)
    batched_ratio = (batched.throughput or 0) / (pgq.throughput or 1)
    (ours_pg, ours_client), (pgq_pg, pgq_client) = drained[OURS_BATCHED].cpu_us, drained[PGQ].cpu_us
    return Section(
        "Job queue: claim_jobs_v4 vs pgqueuer",
        figures,
        ratios={
            "drain jobs/s: ours, outputs finished with the next claim / pgqueuer": batched_ratio,
            "drain jobs/s: ours, each job finished by a claim of its own / pgqueuer": ratio,
            "drain claim → complete p50: ours (next claim) / pgqueuer": batched.p50_ms / pgq.p50_ms,
            "steady enqueue → completed p50: ours / pgqueuer": ours_steady.p50_ms / pgq_steady.p50_ms,
            "drain, Postgres CPU µs a job: ours (next claim)": ours_pg,
            "drain, Postgres CPU µs a job: pgqueuer": pgq_pg,
            "drain, Postgres CPU a job: ours (next claim) / pgqueuer": ours_pg / max(pgq_pg, 1e-9),
            "drain, the workers' CPU µs a job (this process): ours (next claim)": ours_client,
            "drain, the workers' CPU µs a job (this process): pgqueuer": pgq_client,
        },
        targets={
            "≥ 1.0x pgqueuer's jobs/s (ours as the worker drives it: outputs with the next claim)": _verdict(
                batched_ratio
            ),
        },
        notes=[
            f"{JOBS} jobs drained by {WORKERS} workers (one asyncpg connection each), claims of {BATCH};"
            f" best of {ROUNDS} alternating rounds per queue. Steady phase: {STEADY_JOBS} jobs offered at"
            f" {RATE:.0f} jobs/s in batches of {BATCH}. Same Postgres (fsync on, synchronous_commit on), both"
            " queues' tables logged (pgqueuer's default `durable`).",
            "Ours: each worker connects as authenticator and `set role service_role`. As the worker drives it:"
            " claim_jobs_v4(limit, p_finish => the previous batch, each job with its output, finished through the"
            " kind's finish function), one autocommit statement per batch (the steady phase runs this way too)."
            " Each job on its own: a claim_jobs_v4(limit 0, one item) call per job, each its own commit. Every"
            " claimed job also gets its kind's context built in the claim. Wake-up when dry: an in-process event"
            " set by the producer, standing in for the Realtime insert event (0 ms; Realtime adds its own latency).",
            "pgqueuer: QueueManager.run(batch_size) per connection, schema from Queries.install(), asyncpg"
            " driver; it records completions in batches (JobStatusLogBuffer: one statement per batch or per"
            " 0.1 s) and wakes on LISTEN/NOTIFY.",
            "claim → complete: from the start of the claim call that returned the job to the commit of its"
            " completion, measured in the client; enqueue → completed: from the enqueue's commit.",
        ],
    )


def _verdict(ratio: float) -> str:
    return "met" if ratio >= 1.0 else f"missed ({ratio:.2f}x)"
