"""Check-in analysis and recommendations end to end: official clients, real workers, fake model with tools."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError
from realtime import RealtimeSubscribeStates

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, WorkerProcess


def answers_for(questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Valid answers to a category's check-in form."""
    answers: dict[str, Any] = {}
    for q in questions:
        kind = q["type"]
        if kind in ("scale", "number"):
            answers[q["id"]] = q.get("min", 1)
        elif kind == "choice":
            answers[q["id"]] = q["options"][0]
        elif kind == "multi_choice":
            answers[q["id"]] = [q["options"][0]]
        elif kind == "boolean":
            answers[q["id"]] = True
        else:
            answers[q["id"]] = "fine"
    return answers


async def category(user: User) -> dict[str, Any]:
    rows = (
        await user.client.table("categories").select("*").eq("checkin_enabled", True).eq("slug", "sleep").execute()
    ).data
    return dict(rows[0])


async def checkin(user: User, note: str) -> dict[str, Any]:
    cat = await category(user)
    row = {
        "category_id": cat["id"],
        "level": 6,
        "answers": answers_for(cat["checkin_questions"]),
        "note": note,
        "status": "completed",
    }
    return dict((await user.client.table("checkins").insert(row).execute()).data[0])


async def analysed(user: User, checkin_id: str) -> dict[str, Any] | None:
    rows = (await user.client.table("checkins").select("*").eq("id", checkin_id).execute()).data
    return dict(rows[0]) if rows and rows[0]["analyzed_at"] else None


async def recommendations(user: User, checkin_id: str) -> list[dict[str, Any]]:
    return list((await user.client.table("recommendations").select("*").eq("checkin_id", checkin_id).execute()).data)


async def test_a_completed_checkin_gets_its_analysis_and_recommendations(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    owner, other = await make_user(), await make_user()
    seen: dict[str, list[dict[str, Any]]] = {"owner": [], "other": []}

    async def listen(user: User, who: str) -> None:
        joined = asyncio.Event()
        await user.client.realtime.set_auth(user.access_token)
        channel = user.client.channel(f"ai-{who}-{uuid.uuid4().hex[:6]}")
        channel.on_postgres_changes("UPDATE", lambda p: seen[who].append(p), schema="public", table="checkins")
        channel.on_postgres_changes("INSERT", lambda p: seen[who].append(p), schema="public", table="recommendations")
        await channel.subscribe(lambda s, _e: joined.set() if s == RealtimeSubscribeStates.SUBSCRIBED else None)
        await asyncio.wait_for(joined.wait(), 10)

    await listen(owner, "owner")
    await listen(other, "other")
    row = await checkin(owner, "Woke up twice but fell asleep again quickly.")

    await wait_until(lambda: _has(analysed(owner, row["id"])), 30, "the analysis")
    await wait_until(lambda: _non_empty(recommendations(owner, row["id"])), 30, "the recommendations")
    done = await analysed(owner, row["id"])
    assert done is not None and done["summary"] and done["insights"]["trend"] == "improving"
    assert done["analysis_model"] == "claude-fake-1" and done["analysis_prompt_version"].startswith(
        "checkin_analysis@v"
    )
    recs = await recommendations(owner, row["id"])
    assert all(r["model"] == "claude-fake-1" and r["prompt_version"].startswith("recommendations@v") for r in recs)
    assert all(1 <= r["importance"] <= 5 and r["status"] == "new" for r in recs)

    await wait_until(lambda: _true(len(seen["owner"]) >= 1 + len(recs)), 10, "the Realtime events")
    tables = sorted({p["data"]["table"] for p in seen["owner"]})
    assert tables == ["checkins", "recommendations"]
    assert seen["other"] == []  # RLS: nothing of another user's AI output arrives
    assert await recommendations(other, row["id"]) == []

    conn = await asyncpg.connect(stack.dsn)
    try:
        usage = await conn.fetch(
            "select kind, model, output_tokens from internal.ai_usage where subject_id = $1 order by id",
            uuid.UUID(row["id"]),
        )
    finally:
        await conn.close()
    assert [u["kind"] for u in usage] == ["checkin_analysis", "recommendations"]
    assert all(u["output_tokens"] > 0 for u in usage)


async def _has(coro: Any) -> bool:
    return (await coro) is not None


async def _non_empty(coro: Any) -> bool:
    return bool(await coro)


async def _true(value: bool) -> bool:
    return value


async def test_open_recommendations_are_not_repeated(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    user = await make_user()
    first = await checkin(user, "first")
    await wait_until(lambda: _non_empty(recommendations(user, first["id"])), 30, "the first recommendations")
    second = await checkin(user, "second")

    async def analysed_twice() -> bool:
        return (await analysed(user, second["id"])) is not None

    await wait_until(analysed_twice, 30, "the second analysis")
    await asyncio.sleep(1.5)  # its recommendations job runs right after
    # The fake model proposes the same titles again: none is added twice while the first are open.
    all_titles = [r["title"] for r in (await user.client.table("recommendations").select("title").execute()).data]
    assert len(all_titles) == len(set(all_titles)) >= 1


async def test_invalid_structured_output_is_repaired_once_or_fails_with_the_errors(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    user = await make_user()
    repaired = await checkin(user, "[[invalid_tool]] the model slips once")
    broken = await checkin(user, "[[invalid_tool_always]] the model never gets it right")
    await wait_until(lambda: _has(analysed(user, repaired["id"])), 30, "the repaired analysis")
    conn = await asyncpg.connect(stack.dsn)
    try:

        async def dead() -> bool:
            status = await conn.fetchval(
                "select status::text from internal.jobs where dedupe_key = $1", f"checkin_analysis:{broken['id']}"
            )
            return status == "dead"

        await wait_until(dead, 30, "the broken analysis job to be dead")
        error = await conn.fetchval(
            "select last_error from internal.jobs where dedupe_key = $1", f"checkin_analysis:{broken['id']}"
        )
        # Both calls of each were paid for: the failed job's are in the ledger too, each once. A failed
        # attempt's calls go to the ledger in the background, after the job is failed.
        keys = [f"checkin_analysis:{c['id']}" for c in (repaired, broken)]
        spent_sql = (
            "select j.dedupe_key, u.prompt_version, u.call_id from internal.ai_usage u "
            "join internal.jobs j on j.id = u.job_id where j.dedupe_key = any($1::text[])"
        )

        async def all_recorded() -> bool:
            return len(await conn.fetch(spent_sql, keys)) >= 4

        await wait_until(all_recorded, 10, "the failed attempts' model calls in the ledger")
        await asyncio.sleep(0.2)  # and nothing recorded twice after that
        spent = await conn.fetch(spent_sql, keys)
    finally:
        await conn.close()
    assert "after one repair attempt" in error and "summary: Field required" in error
    assert sorted(r["dedupe_key"].split(":")[1] for r in spent) == sorted([repaired["id"]] * 2 + [broken["id"]] * 2)
    assert all(r["prompt_version"].startswith("checkin_analysis") and r["call_id"] for r in spent)
    assert (await analysed(user, broken["id"])) is None


async def test_users_cannot_write_what_the_ai_owns(make_user: UserFactory) -> None:
    user = await make_user()
    row = await checkin(user, "mine")
    with pytest.raises(APIError):
        await user.client.table("checkins").update({"summary": "I wrote this"}).eq("id", row["id"]).execute()
    with pytest.raises(APIError):
        await (
            user.client.table("recommendations")
            .insert({"user_id": user.user_id, "title": "Self-made", "importance": 5})
            .execute()
        )
    with pytest.raises(APIError):
        await user.client.rpc(
            "claim_jobs_v4",
            {"p_worker": "me", "p_kinds": ["checkin_analysis"], "p_finish": [{"id": 1, "output": {"summary": "x"}}]},
        ).execute()
