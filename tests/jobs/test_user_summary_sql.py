"""Queueing a user's memory update (internal.enqueue_user_summary, from a message insert or an analysed
check-in) never waits for a worker's transaction holding the user_summary job. It used to: a message insert
(holding the user's usage counters) waited for the job's row while a claim finishing that job (holding the
row) waited for the counters, and the insert died of a deadlock (40P01)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.jobs.test_chat_reply_sql import api, new_conversation, send  # noqa: F401  (fixtures)


async def summary_job(admin: asyncpg.Connection, user_id: str) -> asyncpg.Record | None:
    return await admin.fetchrow(
        "select id, status::text as status, payload from internal.jobs where dedupe_key = $1", f"user_summary:{user_id}"
    )


async def test_a_message_does_not_wait_for_a_claim_holding_the_users_summary_job(
    admin: asyncpg.Connection,
    api: asyncpg.Connection,  # noqa: F811
    database: str,
) -> None:
    user_id, conversation = await new_conversation(admin)
    # A stale memory: every message of the user asks for an update.
    await admin.execute(
        "insert into public.user_summaries (user_id, summary, updated_at) values ($1, 'x', now() - interval '30 days')",
        uuid.UUID(user_id),
    )
    await send(api, user_id, conversation, "first")
    job = await summary_job(admin, user_id)
    assert job is not None and job["status"] == "queued"
    await admin.execute("update internal.jobs set status = 'succeeded', finished_at = now() where id = $1", job["id"])

    # A worker's claim holds the job's row (it is finishing it), and the user's usage counters are free.
    worker = await asyncpg.connect(database)
    try:
        async with worker.transaction():
            await worker.execute("select 1 from internal.jobs where id = $1 for update", job["id"])
            # Before: this insert waited for the row (and, with the counters held the other way, deadlocked).
            await asyncio.wait_for(send(api, user_id, conversation, "second"), 5)
        assert (await summary_job(admin, user_id))["status"] == "succeeded"  # the request was dropped
    finally:
        await worker.close()

    # Free again: the next message queues the update again, with its reason.
    await send(api, user_id, conversation, "third")
    again = await summary_job(admin, user_id)
    assert again is not None and again["id"] == job["id"] and again["status"] == "queued"
    assert '"stale"' in again["payload"]


async def test_one_job_per_user_whatever_asks(
    admin: asyncpg.Connection,
    api: asyncpg.Connection,  # noqa: F811
) -> None:
    user_id, _ = await new_conversation(admin)
    for reason in ("messages", "checkin", "stale"):
        await admin.execute("select internal.enqueue_user_summary($1, $2)", uuid.UUID(user_id), reason)
    rows = await admin.fetch("select status::text, payload from internal.jobs where dedupe_key = $1",
                             f"user_summary:{user_id}")  # fmt: skip
    assert [r["status"] for r in rows] == ["queued"] and '"messages"' in rows[0]["payload"]
