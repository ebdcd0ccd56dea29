"""Finished jobs past their retention are deleted (purge_finished_jobs_v1), and nothing else is: queued,
running and failed jobs stay whatever their age, recent finished ones stay, and the operators' settings
decide the ages (0: for ever). Only the workers may purge."""

from __future__ import annotations

import asyncpg
import pytest

from tests.jobs.test_queue import ServiceRole, enqueue, kind, svc  # noqa: F401  (fixtures)

# status, and how many days ago it last changed (finished_at for finished jobs)
AGES = {
    "old_succeeded": ("succeeded", 20),
    "new_succeeded": ("succeeded", 1),
    "old_dead": ("dead", 100),
    "new_dead": ("dead", 10),
    "old_queued": ("queued", 100),
    "old_failed": ("failed", 100),
    "old_running": ("running", 100),
}


async def aged_jobs(admin: asyncpg.Connection, svc: ServiceRole, kind: str) -> dict[str, int]:  # noqa: F811
    ids: dict[str, int] = {}
    for name, (status, days) in AGES.items():
        job = await enqueue(svc, kind)
        assert job is not None
        finished = status in ("succeeded", "dead")
        await admin.execute(
            "update internal.jobs set status = $2::internal.job_status, created_at = now() - make_interval(days => $3),"
            " updated_at = now() - make_interval(days => $3),"
            " finished_at = case when $4 then now() - make_interval(days => $3) end,"
            " lease_until = case when $2 = 'running' then now() + interval '1 minute' end where id = $1",
            job, status, days, finished,
        )  # fmt: skip
        ids[name] = job
    return ids


async def purge(svc: ServiceRole, limit: int = 1000) -> int:  # noqa: F811
    rows = await svc.call("select public.purge_finished_jobs_v1($1) as purged", limit)
    return int(rows[0]["purged"])


async def remaining(admin: asyncpg.Connection, ids: dict[str, int]) -> set[str]:
    found = {r["id"] for r in await admin.fetch("select id from internal.jobs where id = any($1)", list(ids.values()))}
    return {name for name, job in ids.items() if job in found}


async def test_only_finished_jobs_past_their_retention_are_deleted(
    admin: asyncpg.Connection,
    svc: ServiceRole,  # noqa: F811
    kind: str,  # noqa: F811
) -> None:
    ids = await aged_jobs(admin, svc, kind)
    assert await purge(svc) >= 2
    assert await remaining(admin, ids) == set(AGES) - {"old_succeeded", "old_dead"}
    assert await purge(svc) == 0  # nothing more is due


async def test_the_operators_settings_decide_the_ages(
    admin: asyncpg.Connection,
    svc: ServiceRole,  # noqa: F811
    kind: str,  # noqa: F811
) -> None:
    ids = await aged_jobs(admin, svc, kind)
    before = dict(await admin.fetch("select key, value::text from internal.settings where key like 'jobs.keep_%'"))
    try:
        await admin.execute(
            "update internal.settings set value = case key when 'jobs.keep_succeeded_days' then '0.5'::jsonb "
            "else '0'::jsonb end where key like 'jobs.keep_%'"
        )
        await purge(svc)
        # Succeeded after 12 hours; dead ones for ever (0).
        assert await remaining(admin, ids) == set(AGES) - {"old_succeeded", "new_succeeded"}
    finally:
        for key, value in before.items():
            await admin.execute("update internal.settings set value = $2::jsonb where key = $1", key, value)


async def test_a_batch_is_bounded_and_only_workers_purge(
    admin: asyncpg.Connection,
    svc: ServiceRole,  # noqa: F811
    kind: str,  # noqa: F811
) -> None:
    await purge(svc)  # what earlier tests left due
    ids = [await aged_jobs(admin, svc, kind) for _ in range(3)]
    assert await purge(svc, limit=2) == 2
    assert await purge(svc, limit=1000) == 4  # the rest: 3 old succeeded and 3 old dead in all
    for role in ("authenticated", "anon"):
        async with admin.transaction():
            await admin.execute(f"set local role {role}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await admin.fetchval("select public.purge_finished_jobs_v1(10)")
    for batch in ids:
        assert await remaining(admin, batch) == set(AGES) - {"old_succeeded", "old_dead"}
