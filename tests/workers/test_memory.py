"""User memory: updated after N messages, readable (not writable) by its owner, and facts can be forgotten."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, WorkerProcess


@pytest.fixture
async def every_three_messages(stack: Stack) -> AsyncIterator[None]:
    """Summaries after 3 user messages instead of the seeded 12 (restored afterwards)."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        old = await conn.fetchval("select value from internal.settings where key = 'summary.every_n_user_messages'")
        await conn.execute("update internal.settings set value = '3' where key = 'summary.every_n_user_messages'")
        yield
        await conn.execute("update internal.settings set value = $1 where key = 'summary.every_n_user_messages'", old)
    finally:
        await conn.close()


async def memory(user: User) -> dict[str, Any] | None:
    rows = (await user.client.table("user_summaries").select("*").execute()).data
    return dict(rows[0]) if rows else None


async def test_memory_updates_after_n_messages_and_a_forgotten_fact_stays_forgotten(
    every_three_messages: None, make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    for text in ("I have a daughter, Lena.", "I run on Sundays.", "I want to sleep before 11."):
        await user.send(conversation, text)

    async def remembered() -> bool:
        current = await memory(user)
        return bool(current and current["key_facts"])

    await wait_until(remembered, 30, "the first memory")
    first = await memory(user)
    assert first is not None and first["model"] == "claude-fake-1"
    assert first["prompt_version"].startswith("user_summary@v")
    [fact] = first["key_facts"]
    uuid.UUID(fact["id"])  # every fact gets an id, so it can be forgotten

    with pytest.raises(APIError):  # the owner reads but never writes the memory
        await user.client.table("user_summaries").update({"summary": "edited"}).eq("user_id", user.user_id).execute()

    await user.client.rpc("forget_fact", {"p_fact_id": fact["id"]}).execute()
    after_forget = await memory(user)
    assert after_forget is not None and after_forget["key_facts"] == []

    async def rewritten() -> bool:
        current = await memory(user)
        return bool(current and current["updated_at"] != after_forget["updated_at"])

    await wait_until(rewritten, 30, "the summary rewritten after forgetting")
    final = await memory(user)
    # The fake model proposes the same fact again: it must not come back.
    assert final is not None and all(f["fact"] != fact["fact"] for f in final["key_facts"])

    with pytest.raises(APIError) as unknown:
        await user.client.rpc("forget_fact", {"p_fact_id": str(uuid.uuid4())}).execute()
    assert unknown.value.code == "PT404"


async def test_another_user_cannot_forget_or_read_my_facts(
    every_three_messages: None, make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    owner, other = await make_user(), await make_user()
    conversation = await owner.conversation()
    for i in range(3):
        await owner.send(conversation, f"fact number {i}")

    async def remembered() -> bool:
        current = await memory(owner)
        return bool(current and current["key_facts"])

    await wait_until(remembered, 30, "the memory")
    mine = await memory(owner)
    assert mine is not None
    assert await memory(other) is None
    with pytest.raises(APIError):
        await other.client.rpc("forget_fact", {"p_fact_id": mine["key_facts"][0]["id"]}).execute()
    assert (await memory(owner)) == mine
