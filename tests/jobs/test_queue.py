"""The SQL job queue: claims under leases, ordering keys, retries with backoff, dead jobs, privileges."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD


class ServiceRole:
    """A connection acting as `service_role`, the way PostgREST runs a worker's RPC."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def call(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async with self.conn.transaction():
            await self.conn.execute("select set_config('role', 'service_role', true)")
            return await self.conn.fetch(sql, *args)


def authenticator(database: str) -> str:
    return role_dsn(database, "authenticator", PASSWORD)


@pytest.fixture
async def svc(database: str) -> AsyncIterator[ServiceRole]:
    conn = await asyncpg.connect(authenticator(database))
    try:
        yield ServiceRole(conn)
    finally:
        await conn.close()


@pytest.fixture
def kind() -> str:
    """A kind of its own per test, so tests sharing the database never claim each other's jobs."""
    return f"test_{uuid.uuid4().hex[:10]}"


async def enqueue(
    svc: ServiceRole, kind: str, *, key: str | None = None, order: str | None = None, max_attempts: int = 5
) -> int | None:
    rows = await svc.call(
        "select internal.enqueue_job($1, $2::jsonb, $3, $4, now(), $5) as id",
        kind,
        json.dumps({"n": 1}),
        key,
        order,
        max_attempts,
    )
    return rows[0]["id"]


async def claim(svc: ServiceRole, worker: str, kind: str, limit: int = 10, lease: int = 60) -> list[int]:
    rows = await svc.call("select id from public.claim_jobs_v1($1, $2, $3, $4)", worker, [kind], limit, lease)
    return sorted(r["id"] for r in rows)


async def test_claim_complete_and_dedupe(svc: ServiceRole, admin: asyncpg.Connection, kind: str) -> None:
    first = await enqueue(svc, kind, key=f"{kind}:a")
    assert await enqueue(svc, kind, key=f"{kind}:a") is None  # same dedupe key: no second job
    assert await claim(svc, "w1", kind) == [first]
    assert await claim(svc, "w2", kind) == []  # leased
    await svc.call("select public.complete_job_v1($1, 'w1', '{\"ok\": true}'::jsonb)", first)
    row = await admin.fetchrow("select status, attempts, result, finished_at from internal.jobs where id = $1", first)
    assert (row["status"], row["attempts"], json.loads(row["result"])) == ("succeeded", 1, {"ok": True})
    assert row["finished_at"] is not None


async def test_ordering_key_runs_one_at_a_time_in_order(svc: ServiceRole, kind: str) -> None:
    a = await enqueue(svc, kind, order="conv-1")
    b = await enqueue(svc, kind, order="conv-1")
    c = await enqueue(svc, kind, order="conv-2")
    assert await claim(svc, "w1", kind) == sorted([a, c])  # b waits for a
    assert await claim(svc, "w2", kind) == []
    await svc.call("select public.complete_job_v1($1, 'w1')", a)
    assert await claim(svc, "w2", kind) == [b]


async def test_expired_lease_is_reclaimed_and_the_old_worker_is_refused(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind)
    assert await claim(svc, "crashed", kind) == [job]
    await admin.execute("update internal.jobs set lease_until = now() - interval '1 second' where id = $1", job)
    assert await claim(svc, "rescuer", kind) == [job]
    with pytest.raises(asyncpg.PostgresError) as info:
        await svc.call("select public.complete_job_v1($1, 'crashed')", job)
    assert info.value.sqlstate == "PT409"
    await svc.call("select public.extend_job_lease_v1($1, 'rescuer', 30)", job)
    await svc.call("select public.complete_job_v1($1, 'rescuer')", job)
    assert await admin.fetchval("select attempts from internal.jobs where id = $1", job) == 2


async def test_retryable_failure_backs_off_then_dies_after_max_attempts(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind, max_attempts=2)
    await claim(svc, "w", kind)
    status = await svc.call("select public.fail_job_v1($1, 'w', '429 rate limited', true, 30) as s", job)
    assert status[0]["s"] == "failed"
    delay = await admin.fetchval("select extract(epoch from run_after - now()) from internal.jobs where id = $1", job)
    assert 29 <= delay <= 31  # at least the model's retry-after
    assert await claim(svc, "w", kind) == []  # not due yet
    await admin.execute("update internal.jobs set run_after = now() where id = $1", job)
    assert await claim(svc, "w", kind) == [job]
    status = await svc.call("select public.fail_job_v1($1, 'w', '500 again', true) as s", job)
    assert status[0]["s"] == "dead"
    problem = await admin.fetchrow("select problem, last_error from internal.job_problems where id = $1", job)
    assert (problem["problem"], problem["last_error"]) == ("dead: gave up", "500 again")
    retried = await admin.fetchrow("select status, attempts from internal.retry_job($1)", job)
    assert (retried["status"], retried["attempts"]) == ("queued", 0)


async def test_permanent_failure_is_dead_at_once(svc: ServiceRole, kind: str) -> None:
    job = await enqueue(svc, kind)
    await claim(svc, "w", kind)
    status = await svc.call("select public.fail_job_v1($1, 'w', '400 bad request', false) as s", job)
    assert status[0]["s"] == "dead"


async def test_lost_worker_on_last_attempt_makes_the_job_dead(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind, max_attempts=1)
    await claim(svc, "w", kind)
    await admin.execute("update internal.jobs set lease_until = now() - interval '1 second' where id = $1", job)
    assert await claim(svc, "w2", kind) == []
    row = await admin.fetchrow("select status, last_error from internal.jobs where id = $1", job)
    assert row["status"] == "dead" and "lease expired" in row["last_error"]


async def test_release_hands_the_job_back_without_counting(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind)
    await claim(svc, "w", kind)
    await svc.call("select public.release_job_v1($1, 'w')", job)
    row = await admin.fetchrow("select status, attempts, locked_by from internal.jobs where id = $1", job)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("queued", 0, None)


async def test_concurrent_workers_claim_each_job_once(database: str, svc: ServiceRole, kind: str) -> None:
    for _ in range(120):
        await enqueue(svc, kind)

    async def worker(name: str) -> list[int]:
        conn = await asyncpg.connect(authenticator(database))
        me, got = ServiceRole(conn), []
        try:
            while ids := await claim(me, name, kind, limit=5):
                got += ids
                for job in ids:
                    await me.call("select public.complete_job_v1($1, $2)", job, name)
        finally:
            await conn.close()
        return got

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    claimed = [job for ids in results for job in ids]
    assert len(claimed) == 120 and len(set(claimed)) == 120


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_cannot_touch_the_queue(database: str, role: str) -> None:
    conn = await asyncpg.connect(authenticator(database))
    try:
        for sql in (
            "select * from public.claim_jobs_v1('x', array['chat_reply'])",
            "select public.complete_job_v1(1, 'x')",
            "select public.fail_job_v1(1, 'x', 'e')",
            "select * from internal.jobs",
            "select internal.enqueue_job('chat_reply', '{}'::jsonb)",
        ):
            async with conn.transaction():
                await conn.execute(f"set local role {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(sql)
    finally:
        await conn.close()
