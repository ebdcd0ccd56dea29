"""Agent tools at SQL level: schema validation, the step functions' exactly-once rules, and the planner's
tools acting for the conversation's user (RLS decides, refusals become is_error, partial effects roll back)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD, Stack
from tests.jobs.test_chat_reply_sql import act_as, assess, claim_v4

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 5},
        "n": {"type": "integer", "minimum": 0, "maximum": 3},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "id": {"type": ["string", "null"], "format": "uuid"},
        "day": {"type": "string", "format": "date"},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 2}},
    },
}


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ({"title": "ok"}, []),
        ({"title": "ok", "n": 3, "kind": "b", "id": None, "day": "2026-12-07", "tags": ["x"]}, []),
        ({}, ["$.title: is required"]),
        ({"title": ""}, ["$.title: must be at least 1 characters"]),
        ({"title": "too long"}, ["$.title: must be at most 5 characters"]),
        ({"title": "ok", "n": 1.5}, ["$.n: must be integer, not number"]),
        ({"title": "ok", "n": 4}, ["$.n: must be at most 3"]),
        ({"title": "ok", "kind": "c"}, ['$.kind: must be one of ["a", "b"]']),
        ({"title": "ok", "id": "nope"}, ["$.id: must be a UUID"]),
        ({"title": "ok", "day": "2026-02-30"}, ["$.day: must be a date (YYYY-MM-DD)"]),
        (
            {"title": "ok", "tags": ["abc", "d", "e"]},
            ["$.tags: must have at most 2 items", "$.tags[0]: must be at most 2 characters"],
        ),
        ({"title": "ok", "extra": 1}, ["$.extra: is not an allowed field"]),
        ([], ["$: must be object, not array"]),
    ],
)
async def test_json_schema_validation(admin: asyncpg.Connection, value: Any, problems: list[str]) -> None:
    found = await admin.fetchval(
        "select internal.json_schema_errors($1::jsonb, $2::jsonb)", json.dumps(SCHEMA), json.dumps(value)
    )
    assert found == problems


@pytest.fixture
async def api(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(role_dsn(database, "authenticator", PASSWORD))
    try:
        yield conn
    finally:
        await conn.close()


class Reply:
    """A user talking to Ada and the chat_reply job answering their message, leased to worker w1."""

    def __init__(self, api: asyncpg.Connection, admin: asyncpg.Connection) -> None:
        self.api, self.admin = api, admin
        self.user = str(uuid.uuid4())
        self.job: dict[str, Any] = {}

    async def start(self, text: str = "Plan my day", risk: str | None = "none") -> Reply:
        """The message is assessed at `risk` (None: not yet assessed) before the reply's job is claimed."""
        await self.admin.execute(
            "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
            uuid.UUID(self.user),
            f"{self.user}@example.com",
        )
        ada = await self.admin.fetchval("select id from public.coaches where slug = 'ada'")
        self.conversation = str(
            await self.admin.fetchval(
                "insert into public.conversations (user_id, coach_id) values ($1, $2) returning id",
                uuid.UUID(self.user),
                ada,
            )
        )
        async with self.api.transaction():
            await act_as(self.api, "authenticated", self.user)
            message_id = await self.api.fetchval(
                "insert into public.messages (conversation_id, content) values ($1, $2) returning id",
                uuid.UUID(self.conversation),
                text,
            )
        self.message_id = str(message_id)
        if risk is not None:
            await assess(self.api, self.message_id, risk)
        answer, _ = await claim_v4(self.api, "w1", ["chat_reply"], [])
        [self.job] = [j for j in answer["jobs"] if j["ordering_key"] == f"conversation:{self.conversation}"]
        return self

    @property
    def reply_id(self) -> uuid.UUID:
        return uuid.UUID(self.job["payload"]["assistant_message_id"])

    async def service(self, sql: str, *args: object) -> Any:
        async with self.api.transaction():
            await act_as(self.api, "service_role")
            return await self.api.fetchval(sql, *args)

    async def step(
        self,
        step: int,
        calls: list[tuple[str, dict[str, Any]]] | None = None,
        worker: str = "w1",
        delta: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """run_reply_step_v1: store the step with its calls (unless it is stored) and run the calls that have no
        result, in one transaction; `delta`: the turn's text not yet broadcast. Without calls: continue a
        stored step."""
        payload = {**self.payload(step, calls), "delta": delta} if calls is not None else {"step": step}
        ran = await self.service(
            "select public.run_reply_step_v1($1, $2, $3::jsonb)", self.job["id"], worker, json.dumps(payload)
        )
        return list(json.loads(ran))

    def payload(self, step: int, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        return {
            "step": step,
            "text": f"step {step}",
            "calls": [{"tool_use_id": f"toolu_{step}_{i}", "name": n, "input": v} for i, (n, v) in enumerate(calls)],
            "usage": {"model": "m", "prompt_version": "chat_reply.planner@v1", "input_tokens": 5, "output_tokens": 2},
        }

    async def record(self, step: int, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """A worker of the release before: record_reply_step_v1 stores the step with its calls pending."""
        stored = await self.service(
            "select public.record_reply_step_v1($1, 'w1', $2::jsonb)",
            self.job["id"],
            json.dumps(self.payload(step, calls)),
        )
        return list(json.loads(stored))

    async def run(self, step: int) -> list[dict[str, Any]]:
        """A worker of the release before: run_tool_calls_v1 runs a stored step's calls that have no result."""
        return list(
            json.loads(await self.service("select public.run_tool_calls_v1($1, 'w1', $2)", self.job["id"], step))
        )


@pytest.fixture
async def reply(api: asyncpg.Connection, admin: asyncpg.Connection) -> Reply:
    return await Reply(api, admin).start()


async def test_a_step_is_stored_and_its_calls_run_in_one_transaction_each_once(
    reply: Reply, admin: asyncpg.Connection
) -> None:
    calls = [
        ("add_plan_item", {"title": "Walk", "date": "2026-12-08"}),
        ("add_plan_item", {"title": "Read", "date": "2026-12-08"}),
    ]
    delta = {"seq": 3, "text": "I'll add both.", "attempt": 1}
    ran = await reply.step(1, calls, delta=delta)
    assert [(c["name"], c["status"], c["is_error"], c["result"]["item"]["title"]) for c in ran] == [
        ("add_plan_item", "succeeded", False, "Walk"),
        ("add_plan_item", "succeeded", False, "Read"),
    ]
    # A retried request stores nothing twice, runs nothing again, and sends its text no second time.
    assert await reply.step(1, calls, delta=delta) == ran
    assert await reply.step(1) == ran
    items = await admin.fetch(
        "select title, user_id::text from public.plan_items where user_id = $1 order by position", uuid.UUID(reply.user)
    )
    assert [(i["title"], i["user_id"]) for i in items] == [("Walk", reply.user), ("Read", reply.user)]
    events = await admin.fetch(
        "select event, payload from realtime.messages where topic = $1 order by ctid",
        f"conversation:{reply.conversation}",
    )
    # The turn's unsent text first, then each call, then each result.
    assert [e["event"] for e in events] == ["delta", "tool_call", "tool_call", "tool_result", "tool_result"]
    sent = {k: v for k, v in json.loads(events[0]["payload"]).items() if k != "id"}  # realtime.send adds its id
    assert sent == {"message_id": str(reply.reply_id), **delta}
    usage = await admin.fetch("select model, input_tokens from internal.ai_usage where job_id = $1", reply.job["id"])
    assert [tuple(u) for u in usage] == [("m", 5)]  # the step's model call, once


@pytest.mark.parametrize("risk", [None, "elevated"])
async def test_no_tool_runs_for_a_message_that_is_not_cleared(
    api: asyncpg.Connection, admin: asyncpg.Connection, risk: str | None
) -> None:
    """Not yet assessed, or assessed as a crisis: the step is refused, and nothing of it is stored or done."""
    reply = await Reply(api, admin).start(risk=None)  # the reply's job is claimed before the message is assessed
    if risk is not None:
        await assess(api, reply.message_id, risk)
    with pytest.raises(asyncpg.CheckViolationError) as info:
        await reply.step(1, [("add_plan_item", {"title": "Walk", "date": "2026-12-08"})])
    assert info.value.constraint_name == "messages_coaching_reply_needs_a_cleared_message"
    assert await admin.fetchval("select count(*) from public.tool_calls where message_id = $1", reply.reply_id) == 0
    assert await admin.fetchval("select count(*) from public.plan_items where user_id = $1", uuid.UUID(reply.user)) == 0


async def test_a_step_stored_by_a_worker_of_the_release_before_is_continued(
    reply: Reply, admin: asyncpg.Connection
) -> None:
    """record_reply_step_v1 left the calls pending; run_reply_step_v1 with the step's number runs them, once,
    and sends no second tool_call event."""
    stored = await reply.record(1, [("add_plan_item", {"title": "Walk", "date": "2026-12-08"}), ("get_plan", {})])
    assert [c["status"] for c in stored] == ["pending", "pending"]
    ran = await reply.step(1)
    assert [(c["id"], c["status"]) for c in ran] == [(stored[0]["id"], "succeeded"), (stored[1]["id"], "succeeded")]
    assert await reply.run(1) == ran  # nor does the release before's function run them again
    events = await admin.fetch(
        "select event from realtime.messages where topic = $1 order by ctid", f"conversation:{reply.conversation}"
    )
    assert [e["event"] for e in events] == ["tool_call", "tool_call", "tool_result", "tool_result"]
    assert await admin.fetchval("select count(*) from public.plan_items where user_id = $1", uuid.UUID(reply.user)) == 1


async def test_a_stored_step_leaves_the_replys_text_to_the_checkpoints(reply: Reply, admin: asyncpg.Connection) -> None:
    """The row's text is a checkpoint's, with the deltas it holds; a step (even one sending the "content"
    workers of the release before sent) only marks the reply as streaming."""
    query = "select status, content, delta_seq, delta_attempt from public.messages where id = $1"
    await reply.step(1, [("get_plan", {})])
    assert tuple(await admin.fetchrow(query, reply.reply_id)) == ("streaming", "", None, None)
    item = {"job_id": reply.job["id"], "message_id": str(reply.reply_id), "content": "On it.", "seq": 1, "attempt": 1}
    await reply.service("select public.checkpoint_chat_replies_v1('w1', $1)", json.dumps([item]))
    older = {
        "step": 2,
        "text": "Checking.",
        "content": "On it.\n\nChecking.",
        "calls": [{"tool_use_id": "toolu_2", "name": "get_plan", "input": {}}],
    }
    await reply.service("select public.record_reply_step_v1($1, 'w1', $2::jsonb)", reply.job["id"], json.dumps(older))
    assert tuple(await admin.fetchrow(query, reply.reply_id)) == ("streaming", "On it.", 1, 1)


async def test_pending_calls_block_the_next_step_and_the_finish(reply: Reply) -> None:
    await reply.record(1, [("get_plan", {})])  # a worker of the release before, which died before running it
    with pytest.raises(asyncpg.PostgresError, match="step 1 has calls that have not run"):
        await reply.step(2, [("get_plan", {})])
    answer, _ = await claim_v4(
        reply.api, "w1", ["chat_reply"], [{"id": reply.job["id"], "output": {"content": "x"}}], 0
    )
    assert (
        answer["finished"][str(reply.job["id"])]["message"]
        == "chat_reply output: the reply has tool calls that have not run"
    )
    with pytest.raises(asyncpg.PostgresError) as info:  # and only the lease holder stores steps
        await reply.step(3, [("get_plan", {})], worker="intruder")
    assert info.value.sqlstate == "PT409"


async def test_tools_act_only_on_the_users_own_rows_and_refusals_change_nothing(
    reply: Reply, admin: asyncpg.Connection
) -> None:
    stranger = await Reply(reply.api, admin).start("Mine")
    their_goal = await admin.fetchval(
        "insert into public.goals (user_id, title) values ($1, 'Theirs') returning id::text", uuid.UUID(stranger.user)
    )
    their_plan = await admin.fetchval(
        "insert into public.daily_plans (user_id, date) values ($1, '2026-12-09') returning id::text",
        uuid.UUID(stranger.user),
    )
    ran = await reply.step(
        1,
        [
            ("update_goal", {"goal_id": their_goal, "progress": 90}),
            ("add_plan_item", {"title": "Sneaky", "daily_plan_id": their_plan}),
            # Creates the user's plan for the day, then refuses the goal: the new plan must roll back too.
            ("add_plan_item", {"title": "Run", "date": "2026-12-10", "goal_id": their_goal}),
            ("create_weekly_plan", {"week_start_date": "2026-12-08"}),
            ("reorder_plan_item", {"item_id": str(uuid.uuid4())}),
        ],
    )
    assert [c["result"]["error"] for c in ran] == [
        f"goal_id: no goal of yours has the id {their_goal}",
        f"daily_plan_id: no daily plan of yours has the id {their_plan}",
        f"goal_id: no goal of yours has the id {their_goal}",
        "week_start_date: 2026-12-08 is a Tuesday, not a Monday",
        ran[4]["result"]["error"],
    ]
    assert ran[4]["result"]["error"].startswith("item_id: no plan item of yours")
    assert all(c["status"] == "failed" and c["is_error"] for c in ran)
    assert await admin.fetchval("select progress from public.goals where id = $1", uuid.UUID(their_goal)) == 0
    assert (
        await admin.fetchval("select count(*) from public.plan_items where daily_plan_id = $1", uuid.UUID(their_plan))
        == 0
    )
    assert (
        await admin.fetchval("select count(*) from public.daily_plans where user_id = $1", uuid.UUID(reply.user)) == 0
    )


async def test_moving_an_item_renumbers_nothing_else(reply: Reply, admin: asyncpg.Connection) -> None:
    day = {"date": "2026-12-11"}
    a, b, c = (
        call["result"]["item"] for call in await reply.step(1, [("add_plan_item", {**day, "title": t}) for t in "ABC"])
    )
    [moved] = await reply.step(2, [("reorder_plan_item", {"item_id": c["id"], "after_item_id": a["id"]})])
    assert [i["title"] for i in moved["result"]["plan"]["items"]] == ["A", "C", "B"]
    positions = dict(
        await admin.fetch(
            "select title, position from public.plan_items where daily_plan_id = $1", uuid.UUID(a["daily_plan_id"])
        )
    )
    assert positions["A"] == a["position"] and positions["B"] == b["position"]  # untouched
    assert a["position"] < positions["C"] < b["position"]
    first, done = await reply.step(
        3, [("reorder_plan_item", {"item_id": b["id"]}), ("complete_plan_item", {"item_id": a["id"]})]
    )
    assert [i["title"] for i in first["result"]["plan"]["items"]] == ["B", "A", "C"]
    assert done["result"]["item"]["status"] == "done"


async def test_the_tools_schema_is_not_exposed_through_the_api(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=f"{stack.api_url}/rest/v1") as http:
        response = await http.post(
            "/rpc/add_plan_item",
            headers={"apikey": stack.anon_key, "Content-Profile": "tools"},
            json={"p_ctx": {}, "p_input": {"title": "x"}},
        )
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST106"
