"""An analysed check-in cancels the user's other pending follow-up in its category, without waiting for a
follow-up job that a worker's claim holds at that moment (that job is left to run): waiting there could
deadlock with the claim, which settles the same user's usage counters the analysis holds."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg

from tests.jobs.test_chat_reply_sql import new_conversation
from tests.workers.test_checkins import answers_for


async def analysed_checkin(conn: asyncpg.Connection, user_id: str, category: asyncpg.Record) -> str:
    """A completed check-in, then its analysis recorded (what the checkin_analysis finish does)."""
    answers = answers_for(json.loads(category["checkin_questions"]))
    checkin = await conn.fetchval(
        "insert into public.checkins (user_id, category_id, level, answers, status, completed_at) "
        "values ($1, $2, 5, $3::jsonb, 'completed', clock_timestamp()) returning id",
        uuid.UUID(user_id), category["id"], json.dumps(answers),
    )  # fmt: skip
    await conn.execute("update public.checkins set summary = 'ok', analyzed_at = now() where id = $1", checkin)
    return str(checkin)


async def followup(admin: asyncpg.Connection, checkin: str) -> asyncpg.Record:
    return await admin.fetchrow(
        "select id, status::text as status, result from internal.jobs where dedupe_key = $1", f"followup:{checkin}"
    )


async def test_a_newer_checkin_skips_a_followup_a_worker_holds_and_cancels_a_free_one(
    admin: asyncpg.Connection, database: str
) -> None:
    user_id, _ = await new_conversation(admin)
    category = await admin.fetchrow(
        "select id, checkin_questions from public.categories "
        "where followup_after is not null and is_active and checkin_enabled limit 1"
    )
    first = await analysed_checkin(admin, user_id, category)
    held = await followup(admin, first)
    assert held["status"] == "queued"

    worker = await asyncpg.connect(database)
    try:
        async with worker.transaction():
            await worker.execute("select 1 from internal.jobs where id = $1 for update", held["id"])
            # Before: this waited for the worker's transaction.
            second = await asyncio.wait_for(analysed_checkin(admin, user_id, category), 5)
        assert (await followup(admin, first))["status"] == "queued"  # held: left to run
        assert (await followup(admin, second))["status"] == "queued"
    finally:
        await worker.close()

    third = await analysed_checkin(admin, user_id, category)  # nothing held: the others are cancelled
    assert [(await followup(admin, c))["status"] for c in (first, second, third)] == [
        "succeeded",
        "succeeded",
        "queued",
    ]
    assert "a newer check-in" in (await followup(admin, second))["result"]
