"""Usage limits enforced in Postgres, seen through the REST API as an app sees them (HTTP 429 / 403).

Each test sets its user's own limits (internal.user_limit_overrides) or plan, as an operator would, so
the shipped plans stay as they are for the other tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, all_complete, replies
from tests.workers.test_checkins import answers_for


async def limit(admin: asyncpg.Connection, user: User, metric: str, period: str, value: int | None) -> None:
    await admin.execute(
        'insert into internal.user_limit_overrides (user_id, metric, period, "limit") values ($1, $2, $3, $4) '
        'on conflict (user_id, metric, period) do update set "limit" = excluded."limit"',
        uuid.UUID(user.user_id),
        metric,
        period,
        value,
    )


async def post_messages(stack: Stack, user: User, rows: list[dict[str, Any]]) -> httpx.Response:
    """A POST of `rows` to /rest/v1/messages with the user's session, as supabase-js sends it."""
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{stack.api_url}/rest/v1/messages",
            headers={
                "apikey": stack.anon_key,
                "Authorization": f"Bearer {user.access_token}",
                "Prefer": "return=minimal",
            },
            content=json.dumps(rows),
        )


async def count(admin: asyncpg.Connection, sql: str, user: User) -> int:
    return int(await admin.fetchval(sql, uuid.UUID(user.user_id)))


async def usage(user: User) -> dict[str, Any]:
    return dict((await user.client.rpc("usage_status").execute()).data)


def used(status: dict[str, Any], metric: str, period: str) -> int:
    [row] = [r for r in status["limits"] if r["metric"] == metric and r["period"] == period]
    return int(row["used"])


async def test_the_message_past_the_daily_allowance_is_refused_with_429_and_nothing_written(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    user = await make_user()
    await user.client.table("profiles").update({"timezone": "Asia/Tokyo"}).eq("id", user.user_id).execute()
    await limit(admin, user, "messages", "day", 2)
    conversation = await user.conversation()
    for text in ("one", "two"):
        assert (
            await post_messages(stack, user, [{"conversation_id": conversation, "content": text}])
        ).status_code == 201
    refused = await post_messages(stack, user, [{"conversation_id": conversation, "content": "three"}])
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "PT429"
    assert body["message"].startswith("Daily message limit reached (2 on plan free); it resets at ")
    assert body["message"].endswith(" 00:00 Asia/Tokyo.")
    assert json.loads(body["details"])["metric"] == "messages"
    # Nothing written: neither the message, nor its reply placeholder, nor any job.
    assert await count(admin, "select count(*) from public.messages where user_id = $1 and role = 'user'", user) == 2
    assert await count(admin, "select count(*) from public.messages where user_id = $1", user) == 4
    assert (
        await count(admin, "select count(*) from internal.jobs where user_id = $1 and kind = 'chat_reply'", user) == 2
    )
    status = await usage(user)
    assert status["plan"] == "free" and used(status, "messages", "day") == 2


async def test_past_the_limit_a_message_the_rules_flag_still_gets_its_crisis_response(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    """A limit never stands between a person in crisis and the resources: a message the rules flag is decided
    in its insert and queues no coaching job, so nothing counts against the allowance and it is admitted."""
    user = await make_user()
    await limit(admin, user, "messages", "day", 1)
    conversation = await user.conversation()
    assert (await post_messages(stack, user, [{"conversation_id": conversation, "content": "one"}])).status_code == 201
    assert (await post_messages(stack, user, [{"conversation_id": conversation, "content": "two"}])).status_code == 429
    crisis = await post_messages(stack, user, [{"conversation_id": conversation, "content": "I want to kill myself"}])
    assert crisis.status_code == 201
    reply = await admin.fetchrow(
        "select r.reply_kind::text, r.status::text, r.content from public.messages r "
        "join public.messages m on m.id = r.reply_to "
        "where m.conversation_id = $1 and m.content = 'I want to kill myself'",
        uuid.UUID(conversation),
    )
    assert reply["reply_kind"] == "crisis" and reply["status"] == "complete" and "988" in reply["content"]
    assert used(await usage(user), "messages", "day") == 1


async def test_twenty_concurrent_inserts_at_the_boundary_admit_exactly_the_allowance(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    user = await make_user()
    await limit(admin, user, "messages", "day", 10)
    conversation = await user.conversation()
    answers = await asyncio.gather(
        *(post_messages(stack, user, [{"conversation_id": conversation, "content": f"m{i}"}]) for i in range(20))
    )
    assert sorted(a.status_code for a in answers) == [201] * 10 + [429] * 10
    assert await count(admin, "select count(*) from public.messages where user_id = $1 and role = 'user'", user) == 10


async def test_a_100_row_insert_counts_as_100_and_an_insert_past_the_limit_writes_none_of_its_rows(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    user = await make_user()
    await limit(admin, user, "messages", "day", 150)
    conversation = await user.conversation()
    rows = [{"conversation_id": conversation, "content": f"m{i}"} for i in range(100)]
    assert (await post_messages(stack, user, rows)).status_code == 201
    assert used(await usage(user), "messages", "day") == 100
    assert (await post_messages(stack, user, rows)).status_code == 429  # 100 more: 200 > 150
    assert await count(admin, "select count(*) from public.messages where user_id = $1 and role = 'user'", user) == 100


async def test_a_premium_user_is_not_limited_and_users_cannot_change_their_plan(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    free, premium = await make_user(), await make_user()
    for user in (free, premium):
        await limit(admin, user, "messages", "day", None)  # back to the plan's own limit (no override)
        await admin.execute("delete from internal.user_limit_overrides where user_id = $1", uuid.UUID(user.user_id))
    service = httpx.AsyncClient(
        base_url=f"{stack.api_url}/rest/v1",
        headers={"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"},
    )
    async with service:
        answer = await service.post("/rpc/set_user_plan", json={"p_user_id": premium.user_id, "p_plan": "premium"})
        assert answer.status_code in (200, 204), answer.text
    over_free = 51  # the free plan allows 50 messages a day
    for user, expected in ((free, 429), (premium, 201)):
        conversation = await user.conversation()
        rows = [{"conversation_id": conversation, "content": f"m{i}"} for i in range(over_free)]
        assert (await post_messages(stack, user, rows)).status_code == expected
    status = await usage(premium)
    assert status["plan"] == "premium" and status["limits"] == []
    with pytest.raises(Exception, match=r"42501|permission denied"):
        await free.client.rpc("set_user_plan", {"p_user_id": free.user_id, "p_plan": "premium"}).execute()


async def test_the_allowance_resets_at_the_users_local_midnight(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: its day is not the server's
    user = await make_user()
    await user.client.table("profiles").update({"timezone": zone}).eq("id", user.user_id).execute()
    await limit(admin, user, "messages", "day", 1)
    today = datetime.now(ZoneInfo(zone)).date()
    # Yesterday (their yesterday) is used up: today is a new allowance.
    await admin.execute(
        "insert into internal.usage_counters (user_id, day, messages) values ($1, $2, 1)",
        uuid.UUID(user.user_id),
        today - timedelta(days=1),
    )
    conversation = await user.conversation()
    assert (await post_messages(stack, user, [{"conversation_id": conversation, "content": "a"}])).status_code == 201
    refused = await post_messages(stack, user, [{"conversation_id": conversation, "content": "b"}])
    assert refused.status_code == 429
    resets_at = datetime.fromisoformat(json.loads(refused.json()["details"])["resets_at"])
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    assert resets_at == midnight
    [row] = [r for r in (await usage(user))["limits"] if r["metric"] == "messages"]
    assert datetime.fromisoformat(row["resets_at"]) == midnight and row["used"] == 1


async def test_a_feature_the_plan_lacks_is_refused_with_403(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    user = await make_user()
    category = await admin.fetchrow("select id, checkin_questions from public.categories where slug = 'stress'")
    answers = answers_for(json.loads(category["checkin_questions"]))
    await admin.execute("update internal.job_kinds set required_feature = 'premium' where name = 'checkin_analysis'")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                f"{stack.api_url}/rest/v1/checkins",
                headers={"apikey": stack.anon_key, "Authorization": f"Bearer {user.access_token}"},
                json={"category_id": str(category["id"]), "level": 5, "answers": answers, "status": "completed"},
            )
        assert answer.status_code == 403, answer.text
        assert answer.json()["message"] == "checkin analysis is not included in plan free"
        assert await count(admin, "select count(*) from public.checkins where user_id = $1", user) == 0
    finally:
        await admin.execute("update internal.job_kinds set required_feature = null where name = 'checkin_analysis'")


async def test_the_ledger_agrees_with_the_stored_usage_and_cannot_be_rewritten(
    stack: Stack, make_user: UserFactory, admin: asyncpg.Connection, start_worker: Any
) -> None:
    await admin.execute(
        "insert into internal.model_prices (model, input_usd_per_mtok, output_usd_per_mtok) "
        "values ('claude-fake-1', 3, 15) on conflict (model) do nothing"
    )
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    for sent, text in enumerate(("How do I start running?", "And stretching?"), 1):
        await user.send(conversation, text)
        await wait_until(lambda n=sent: all_complete(user, conversation, n), 30, "reply")
    uid = uuid.UUID(user.user_id)
    stored = await admin.fetchrow(
        "select sum(input_tokens) as input, sum(output_tokens) as output from public.messages "
        "where user_id = $1 and role = 'assistant'",
        uid,
    )
    ledger = await admin.fetchrow(
        "select sum(input_tokens) filter (where kind = 'chat_reply') as input, "
        "sum(output_tokens) filter (where kind = 'chat_reply') as output, sum(input_tokens + output_tokens) as tokens, "
        "sum(cost_micros) as cost, sum(input_tokens * 3 + output_tokens * 15) filter (where model = 'claude-fake-1') "
        "as expected_cost from internal.ai_usage where user_id = $1",
        uid,
    )
    assert (ledger["input"], ledger["output"]) == (stored["input"], stored["output"]) and stored["input"] > 0
    assert ledger["cost"] == ledger["expected_cost"] > 0
    day = await admin.fetchrow("select * from internal.usage_counters where user_id = $1", uid)
    assert (day["tokens"], day["cost_micros"], day["messages"], day["reserved_messages"]) == (
        ledger["tokens"], ledger["cost"], 2, 0
    )  # fmt: skip
    assert len(await replies(user, conversation)) == 2
    async with admin.transaction():
        await admin.execute("set local role service_role")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute("update internal.ai_usage set input_tokens = 0 where user_id = $1", uid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await admin.execute("delete from internal.ai_usage where user_id = $1", uid)
