"""Long conversations stay within the reply budget; check-in follow-ups fire after their delay or are cancelled."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, WorkerProcess
from tests.workers.test_checkins import analysed, checkin

TURN = "Here is what happened this week in some detail. " * 12  # about 600 characters, 150 tokens


async def replies(user: User, conversation: str) -> list[dict[str, Any]]:
    return [m for m in await user.messages(conversation) if m["role"] == "assistant" and m["reply_to"]]


async def test_a_200_turn_conversation_is_compacted_and_replies_stay_in_budget(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    conn = await asyncpg.connect(stack.dsn)
    try:
        async with conn.transaction():  # 200 earlier turns, written as a long-running chat would have
            await conn.execute("set local session_replication_role = replica")
            await conn.executemany(
                "insert into public.messages (conversation_id, user_id, role, content, status, created_at) "
                "values ($1, $2, $3, $4, 'complete', now() - make_interval(secs => 1000 - $5))",
                [
                    (
                        uuid.UUID(conversation),
                        uuid.UUID(user.user_id),
                        "user" if i % 2 == 0 else "assistant",
                        f"turn {i}: {TURN}",
                        i,
                    )
                    for i in range(200)
                ],
            )
    finally:
        await conn.close()

    await user.send(conversation, "What should I focus on today?")

    async def compacted() -> bool:
        rows = (await user.client.table("conversations").select("*").eq("id", conversation).execute()).data
        return bool(rows[0]["summary"]) and rows[0]["summary_through_message_id"] is not None

    await wait_until(compacted, 40, "the conversation summary")
    await user.send(conversation, "And tomorrow?")

    async def two_replies() -> bool:
        rows = await replies(user, conversation)
        return len(rows) == 2 and all(r["status"] == "complete" for r in rows)

    await wait_until(two_replies, 40, "the reply after compaction")
    first, second = sorted(await replies(user, conversation), key=lambda r: r["created_at"])
    assert second["content"] == "Echo: And tomorrow?"  # still answers the latest turn
    # The fake counts the tokens of the turns it was sent: bounded by the budget before, and by the
    # turns after the summary once compacted.
    assert first["input_tokens"] <= 6000 * 1.3
    assert second["input_tokens"] < first["input_tokens"]


@pytest.fixture
async def followup_delay(stack: Stack) -> AsyncIterator[Callable[[str], Any]]:
    conn = await asyncpg.connect(stack.dsn)
    old = await conn.fetchval("select followup_after from public.categories where slug = 'sleep'")

    async def set_delay(delay: str) -> None:
        sql = "update public.categories set followup_after = $1::text::interval where slug = 'sleep'"
        await conn.execute(sql, delay)

    try:
        yield set_delay
    finally:
        await conn.execute("update public.categories set followup_after = $1 where slug = 'sleep'", old)
        await conn.close()


async def test_a_followup_fires_after_its_delay(
    followup_delay: Callable[[str], Any], make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    await followup_delay("2 seconds")
    start_worker()
    user = await make_user()
    await checkin(user, "Slept badly after late screens.")

    async def followed_up() -> bool:
        rows = (await user.client.table("messages").select("*").eq("role", "assistant").execute()).data
        return any(r["prompt_version"] and r["prompt_version"].startswith("followup@v") for r in rows)

    await wait_until(followed_up, 30, "the follow-up message")
    conversations = (await user.client.table("conversations").select("*, categories(slug)").execute()).data
    assert [c["categories"]["slug"] for c in conversations] == ["sleep"]


async def test_a_new_checkin_cancels_the_pending_followup(
    followup_delay: Callable[[str], Any],
    make_user: UserFactory,
    start_worker: Callable[..., WorkerProcess],
    stack: Stack,
) -> None:
    await followup_delay("1 hour")
    start_worker()
    user = await make_user()
    first = await checkin(user, "first")
    await wait_until(lambda: _true_when(analysed(user, first["id"])), 30, "the first analysis")
    second = await checkin(user, "second")
    await wait_until(lambda: _true_when(analysed(user, second["id"])), 30, "the second analysis")
    conn = await asyncpg.connect(stack.dsn)
    try:
        rows = {
            r["dedupe_key"]: r
            for r in await conn.fetch(
                "select dedupe_key, status::text, result, run_after > now() as later "
                "from internal.jobs where kind = 'followup' and payload ->> 'user_id' = $1",
                user.user_id,
            )
        }
    finally:
        await conn.close()
    cancelled, pending = rows[f"followup:{first['id']}"], rows[f"followup:{second['id']}"]
    assert cancelled["status"] == "succeeded" and "cancelled" in json.loads(cancelled["result"])
    assert pending["status"] == "queued" and pending["later"]


async def _true_when(coro: Any) -> bool:
    return (await coro) is not None
