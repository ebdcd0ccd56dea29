"""One user cannot slow the rest, nor learn about them: fair claiming, one follow-up, a private wake-up."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from supabase import AsyncClientOptions, acreate_client

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, all_complete, replies
from tests.workers.test_checkins import answers_for


async def unlimited(admin: asyncpg.Connection, user: User) -> None:
    for metric in ("messages", "ai_jobs"):
        await admin.execute(
            "insert into internal.user_limit_overrides (user_id, metric, period) values ($1, $2, 'day')",
            uuid.UUID(user.user_id),
            metric,
        )


async def test_a_users_reply_is_not_queued_behind_another_users_burst(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection
) -> None:
    start_worker()
    hog, other = await make_user(), await make_user()
    await unlimited(admin, hog)  # limits raised so that the whole burst is admitted
    conversations = [await hog.conversation() for _ in range(10)]
    mine = await other.conversation()
    burst = [{"conversation_id": conversations[i % 10], "content": f"burst {i}"} for i in range(300)]
    await hog.client.table("messages").insert(burst).execute()
    await other.send(mine, "Just one question")
    await wait_until(lambda: all_complete(other, mine, 1), 60, "the other user's reply")
    # When it was answered, most of the burst's 600 jobs (assessments and replies) were still waiting: it was
    # claimed in fair order, not after all of them.
    waiting = await admin.fetchval(
        "select count(*) from internal.jobs where user_id = $1 and status <> 'succeeded'", uuid.UUID(hog.user_id)
    )
    assert waiting >= 300, f"only {waiting} of the burst's 600 jobs were still waiting"
    [reply] = await replies(other, mine)
    assert reply["reply_kind"] == "coaching"


async def test_ten_checkins_completed_in_one_statement_schedule_one_followup(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection
) -> None:
    start_worker()
    user = await make_user()
    category = await admin.fetchrow(
        "select id, checkin_questions from public.categories "
        "where followup_after is not null and is_active and checkin_enabled limit 1"
    )
    answers = answers_for(json.loads(category["checkin_questions"]))
    rows = [{"category_id": str(category["id"]), "level": 5, "answers": answers, "status": "completed"}] * 10
    await user.client.table("checkins").insert(rows).execute()

    async def analysed() -> bool:
        return bool(
            await admin.fetchval(
                "select count(*) = 10 from public.checkins where user_id = $1 and analyzed_at is not null",
                uuid.UUID(user.user_id),
            )
        )

    await wait_until(analysed, 60, "the ten analyses")
    pending = await admin.fetch(
        "select payload from internal.jobs where kind = 'followup' and user_id = $1 and status in ('queued', 'failed')",
        uuid.UUID(user.user_id),
    )
    assert len(pending) == 1


@pytest.mark.parametrize("who", ["signed-in user", "anon"])
async def test_the_workers_wake_up_topic_tells_users_nothing(
    stack: Stack, make_user: UserFactory, start_worker: Any, who: str
) -> None:
    """Jobs are not in the Realtime publication, and the workers' private topic admits no user."""
    start_worker()
    active = await make_user()
    if who == "anon":
        spy = await acreate_client(stack.api_url, stack.anon_key, options=AsyncClientOptions(auto_refresh_token=False))
    else:
        spy = (await make_user()).client
    heard: list[Any] = []
    private = spy.channel("workers:jobs", {"config": {"private": True}})
    private.on_broadcast("*", heard.append)
    changes = spy.channel("jobs-changes")
    changes.on_postgres_changes("*", heard.append, schema="internal", table="jobs")
    try:
        for channel in (private, changes):
            await channel.subscribe()
        await asyncio.sleep(1.0)
        conversation = await active.conversation()
        await active.send(conversation, "Hello, is anyone there?")
        await wait_until(lambda: all_complete(active, conversation, 1), 30, "the reply")
        await asyncio.sleep(0.5)
        assert heard == []
    finally:
        if who == "anon":
            await spy.realtime.close()
