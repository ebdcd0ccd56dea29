"""A running worker deletes finished jobs past their retention on its own (COACHBASE_PURGE_SECONDS)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess


async def test_a_worker_purges_old_finished_jobs_and_leaves_the_rest(
    admin: asyncpg.Connection, start_worker: Callable[..., WorkerProcess]
) -> None:
    old, recent = [
        await admin.fetchval(
            "insert into internal.jobs (kind, payload, status, finished_at, updated_at) values "
            "('knowledge_reindex', '{}', 'succeeded', now() - make_interval(days => $1), now()) returning id",
            days,
        )
        for days in (30, 0)
    ]
    worker = start_worker(COACHBASE_PURGE_SECONDS="0.2")

    async def purged() -> bool:
        return not await admin.fetchval("select exists (select 1 from internal.jobs where id = $1)", old)

    await wait_until(purged, 15, "the worker purged the old job")
    assert await admin.fetchval("select status::text from internal.jobs where id = $1", recent) == "succeeded"

    async def logged() -> bool:
        return "finished jobs purged" in worker.output()

    await wait_until(logged, 10, "the worker's log says what it purged")
