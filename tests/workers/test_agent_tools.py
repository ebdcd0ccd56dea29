"""Agent tools end to end: the planner coach (Ada) acts through tool calls, each exactly once.

Official clients as the user, real worker processes, the fake model over HTTP. Turns come from recorded
responses ([[replay:...]]: an Anthropic stream with input_json_delta, an OpenAI-compatible stream with
tool_calls) or are scripted ([[call:...]]). The fake refuses a request that sends a tool call without
its result, as the Anthropic API does: a reply that completes had only well-formed requests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from shared.llm.base import ToolUse
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, WorkerProcess, all_complete, replies, streamed_text, subscribe
from workers.agent import MAX_CALLS, storable_calls
from workers.kinds.chat_reply import STEP_LIMIT_NOTE

RECORDED = {
    "anthropic": "[[replay:anthropic_stream_tool_use,anthropic_stream_text]]",
    "openai": "[[replay:openai_stream_tool_calls,openai_stream]]",
}


@pytest.fixture
async def make_planner_user(make_user: UserFactory, admin: asyncpg.Connection) -> Callable[[], Any]:
    """A signed-up user who talks to Ada, the planner coach (her tools are enabled in the catalogue)."""
    ada = str(await admin.fetchval("select id from public.coaches where slug = 'ada'"))

    async def make() -> User:
        user = await make_user()
        user.coach_id = ada
        return user

    return make


async def reply_done(user: User, conversation: str, seconds: float = 40) -> dict[str, Any]:
    await wait_until(lambda: all_complete(user, conversation, 1), seconds, "the reply")
    [reply] = await replies(user, conversation)
    return reply


async def tool_calls(user: User, conversation: str) -> list[dict[str, Any]]:
    rows = (
        await user.client.table("tool_calls")
        .select("*")
        .eq("conversation_id", conversation)
        .order("step")
        .order("position")
        .execute()
    )
    return list(rows.data)


async def plan_items(user: User) -> list[dict[str, Any]]:
    rows = await user.client.table("plan_items").select("title, user_id, status").order("position").execute()
    return list(rows.data)


async def model_requests(fake_llm: str, conversation_text: str) -> list[dict[str, Any]]:
    """The fake model's log of the requests of one reply (identified by the user's first message)."""
    async with httpx.AsyncClient() as http:
        entries = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    mine = []
    for entry in entries:
        if entry.get("kind") == "classifier":  # the message's safety assessment, not the reply
            continue
        texts = [
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in entry["body"].get("messages") or []
            if m.get("role") == "user"
        ]
        if any(conversation_text in t for t in texts):
            mine.append(entry)
    return mine


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_a_reply_adds_two_plan_items_in_parallel_calls_and_then_answers(
    make_planner_user: Callable[[], Any],
    make_user: UserFactory,
    start_worker: Callable[..., WorkerProcess],
    fake_llm: str,
    provider: str,
) -> None:
    if provider == "openai":
        start_worker(COACHBASE_LLM_PROVIDER="openai", OPENAI_BASE_URL=f"{fake_llm}/v1", OPENAI_API_KEY="sk-fake")
    else:
        start_worker()
    user, stranger = await make_planner_user(), await make_user()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    await user.send(conversation, f"Add a lunch walk and an early night to today, please {RECORDED[provider]}")
    reply = await reply_done(user, conversation)
    await asyncio.wait_for(done.wait(), 10)

    # The items exist once, owned by the user.
    items = await plan_items(user)
    assert [i["title"] for i in items] == ["20-minute walk after lunch", "Lights out by 22:30"]
    assert {i["user_id"] for i in items} == {user.user_id}
    # The calls and their results are stored, readable by the owner, and nobody else.
    calls = await tool_calls(user, conversation)
    assert [(c["step"], c["position"], c["name"], c["status"], c["is_error"]) for c in calls] == [
        (1, 1, "add_plan_item", "succeeded", False),
        (1, 2, "add_plan_item", "succeeded", False),
    ]
    assert [c["result"]["item"]["title"] for c in calls] == [i["title"] for i in items]
    assert all(c["changes"][0]["table"] == "plan_items" for c in calls)
    assert await tool_calls(stranger, conversation) == []
    assert (await stranger.client.table("plan_items").select("id").execute()).data == []
    # They were broadcast as they happened: each call, then its result, between the turns' text.
    events = [(e, p.get("tool_call_id") or p.get("seq")) for e, p in user.broadcasts if e != "delta" or p]
    kinds = [e for e, _ in events if e in ("tool_call", "tool_result", "done")]
    assert kinds == ["tool_call", "tool_call", "tool_result", "tool_result", "done"]
    assert {p["tool_call_id"] for e, p in user.broadcasts if e == "tool_result"} == {c["id"] for c in calls}
    deltas = "".join(p["text"] for _, p in sorted((p["seq"], p) for e, p in user.broadcasts if e == "delta"))
    assert deltas == reply["content"]
    first_turn = "I'll add both to today's plan." if provider == "anthropic" else "Adding both now."
    assert reply["content"].startswith(first_turn + "\n\n")  # the two turns' text, as one reply
    # The first turn's last words reached the app before what the coach did (its step sent them first).
    before = user.broadcasts[: next(i for i, (e, _) in enumerate(user.broadcasts) if e == "tool_call")]
    assert any(p["text"].endswith(first_turn[-8:]) for e, p in before if e == "delta")


async def test_a_tool_call_on_another_users_goal_is_an_error_and_changes_nothing(
    make_planner_user: Callable[[], Any], start_worker: Callable[..., WorkerProcess], admin: asyncpg.Connection
) -> None:
    start_worker()
    user, owner = await make_planner_user(), await make_planner_user()
    goal = await admin.fetchval(
        "insert into public.goals (user_id, title) values ($1, 'Not yours') returning id::text",
        uuid.UUID(owner.user_id),
    )
    conversation = await user.conversation()
    await user.send(
        conversation, f'Mark that goal done [[call:update_goal {{"goal_id": "{goal}", "status": "completed"}}]]'
    )
    reply = await reply_done(user, conversation)
    [call] = await tool_calls(user, conversation)
    assert (call["status"], call["is_error"]) == ("failed", True)
    assert call["result"] == {"error": f"goal_id: no goal of yours has the id {goal}"}
    assert "no goal of yours" in reply["content"]  # the model got the reason
    assert await admin.fetchval("select status::text from public.goals where id = $1", uuid.UUID(goal)) == "active"


async def test_invalid_input_gets_the_reason_and_the_corrected_call_succeeds(
    make_planner_user: Callable[[], Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    user = await make_planner_user()
    conversation = await user.conversation()
    await user.send(
        conversation,
        'Add reading [[call:add_plan_item {"title": "", "priority": "whenever"}]]'
        ' [[then:add_plan_item {"title": "Read 10 pages"}]]',
    )
    await reply_done(user, conversation)
    first, second = await tool_calls(user, conversation)
    assert (first["step"], first["status"], first["is_error"]) == (1, "failed", True)
    reason = first["result"]["error"]
    assert "$.title: must be at least 1 characters" in reason
    assert "$.priority: must be one of" in reason
    assert (second["step"], second["status"], second["is_error"]) == (2, "succeeded", False)
    assert [i["title"] for i in await plan_items(user)] == ["Read 10 pages"]


async def test_the_step_limit_ends_the_reply_with_a_clear_note(
    make_planner_user: Callable[[], Any], start_worker: Callable[..., WorkerProcess], admin: asyncpg.Connection
) -> None:
    await admin.execute("update internal.settings set value = '2' where key = 'reply.max_tool_steps'")
    try:
        start_worker()
        user = await make_planner_user()
        conversation = await user.conversation()
        await user.send(conversation, "What is on today? [[loop:get_plan {}]]")
        reply = await reply_done(user, conversation)
    finally:
        await admin.execute("update internal.settings set value = '6' where key = 'reply.max_tool_steps'")
    assert reply["content"].endswith(STEP_LIMIT_NOTE.strip())
    assert [c["step"] for c in await tool_calls(user, conversation)] == [1, 2]  # the third turn's call never ran


async def test_a_call_the_table_could_not_hold_as_written_is_answered_not_failed(
    make_planner_user: Callable[[], Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    """A model can name a tool that does not exist, in any length: stored as written, a name of over 64
    characters failed the whole reply on tool_calls' constraint. It is stored cut to 64 and answered."""
    start_worker()
    user = await make_planner_user()
    conversation = await user.conversation()
    await user.send(conversation, f"Plan my day [[call:{'a' * 70} {{}}]]")
    reply = await reply_done(user, conversation)
    [call] = await tool_calls(user, conversation)
    assert reply["status"] == "complete"
    assert call["name"] == "a" * 64 and call["is_error"]
    assert call["result"] == {"error": f"The tool {'a' * 64} is not available to you."}


def test_a_turns_calls_are_made_storable_whatever_the_model_wrote() -> None:
    calls = [
        ToolUse("toolu_1", "get_plan", {}),
        ToolUse("toolu_1", "get_plan; drop table x", {}),  # the same id again, a name no tool has
        ToolUse("toolu_0", "", {}),  # an id of an earlier step, no name
        *(ToolUse(f"toolu_x{i}", "get_plan", {}) for i in range(70)),
    ]
    stored = storable_calls(calls, taken={"toolu_0"})
    assert len(stored) == MAX_CALLS
    assert [c.name for c in stored[:3]] == ["get_plan", "get_plan__drop_table_x", "unnamed_tool"]
    ids = [c.id for c in stored]
    assert ids[0] == "toolu_1" and len(set(ids)) == len(ids) and "toolu_0" not in ids


async def test_a_tool_not_enabled_for_the_coach_is_not_offered_nor_run(
    make_planner_user: Callable[[], Any],
    make_user: UserFactory,
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    fake_llm: str,
) -> None:
    start_worker()
    ada = await admin.fetchval("select id from public.coaches where slug = 'ada'")
    await admin.execute("delete from internal.coach_tools where coach_id = $1 and tool_name = 'create_goal'", ada)
    try:
        user = await make_planner_user()
        conversation = await user.conversation()
        text = f'Set a goal {uuid.uuid4().hex[:6]} [[call:create_goal {{"title": "Learn Dutch"}}]]'
        await user.send(conversation, text)
        await reply_done(user, conversation)
    finally:
        await admin.execute("insert into internal.coach_tools (coach_id, tool_name) values ($1, 'create_goal')", ada)
    offered = {t["name"] for t in (await model_requests(fake_llm, text))[0]["body"]["tools"]}
    assert "create_goal" not in offered and "add_plan_item" in offered
    [call] = await tool_calls(user, conversation)
    assert call["result"] == {"error": "The tool create_goal is not available to you."}
    assert (await user.client.table("goals").select("id").execute()).data == []
    # A coach without tools is offered none.
    maya_user = await make_user()
    other = await maya_user.conversation()
    plain = f"Just talking {uuid.uuid4().hex[:6]}"
    await maya_user.send(other, plain)
    await wait_until(lambda: all_complete(maya_user, other, 1), 30, "Maya's reply")
    assert "tools" not in (await model_requests(fake_llm, plain))[0]["body"]


async def _backend_blocked_by(admin: asyncpg.Connection) -> int | None:
    """The backend waiting for a lock that `admin` holds, if any."""
    pid: int | None = await admin.fetchval(
        "select pid from pg_stat_activity where pg_backend_pid() = any (pg_blocking_pids(pid)) limit 1"
    )
    return pid


async def _kill_while_the_calls_run(
    user: User, first: WorkerProcess, admin: asyncpg.Connection, plan: uuid.UUID, text: str
) -> str:
    """Send `text` and kill the worker while its step's calls wait (a plan item takes a key-share lock on
    the day's plan, which the test holds); its request is cancelled in Postgres, so nothing of it commits.
    The conversation."""
    conversation = await user.conversation()
    tx = admin.transaction()
    await tx.start()
    try:
        await admin.execute("select 1 from public.daily_plans where id = $1 for update", plan)
        await user.send(conversation, text)
        blocked = await _wait_for(lambda: _backend_blocked_by(admin), "the step's calls blocked")
        first.kill()
        await admin.execute("select pg_cancel_backend($1)", blocked)
    finally:
        await tx.rollback()
    return conversation


async def _christmas_eve(user: User, admin: asyncpg.Connection) -> tuple[uuid.UUID, str]:
    day = "2026-12-24"
    plan = await admin.fetchval(
        "insert into public.daily_plans (user_id, date) values ($1, $2::text::date) returning id",
        uuid.UUID(user.user_id),
        day,
    )
    text = (
        f'Plan Christmas eve {uuid.uuid4().hex[:6]} [[call:add_plan_item {{"title": "Wrap gifts", "date": "{day}"}}]]'
        f' [[call:add_plan_item {{"title": "Call grandma", "date": "{day}"}}]]'
    )
    return plan, text


async def _completed_with_each_item_once(
    user: User, admin: asyncpg.Connection, fake_llm: str, conversation: str, plan: uuid.UUID, text: str
) -> list[int]:
    """Wait for the reply taken over; check each plan item and call exactly once. The turns the model was asked."""
    reply = await reply_done(user, conversation, seconds=60)
    assert reply["status"] == "complete"
    titles = [
        r["title"]
        for r in await admin.fetch(
            "select title from public.plan_items where daily_plan_id = $1 order by position", plan
        )
    ]
    assert titles == ["Wrap gifts", "Call grandma"]  # each once
    calls = await tool_calls(user, conversation)
    assert [(c["step"], c["status"]) for c in calls] == [(1, "succeeded"), (1, "succeeded")]
    return [r["turn"] for r in await model_requests(fake_llm, text)]


async def test_a_worker_killed_while_the_calls_run_leaves_nothing_of_the_turn(
    make_planner_user: Callable[[], Any],
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    fake_llm: str,
) -> None:
    """The turn, its calls and their effects commit together: a worker that dies first leaves none of them,
    and the worker that takes over asks the model for the turn again."""
    user = await make_planner_user()
    plan, text = await _christmas_eve(user, admin)
    conversation = await _kill_while_the_calls_run(user, start_worker("first"), admin, plan, text)
    assert (
        await admin.fetchval(
            "select count(*) from public.tool_calls where conversation_id = $1", uuid.UUID(conversation)
        )
        == 0
    )
    assert await admin.fetchval("select count(*) from public.plan_items where daily_plan_id = $1", plan) == 0

    start_worker("second")  # takes the reply over once the first's lease expires
    turns = await _completed_with_each_item_once(user, admin, fake_llm, conversation, plan, text)
    assert turns == [1, 1, 2]  # the lost turn asked for again, then the turn after its results


async def test_a_step_a_worker_of_the_release_before_stored_is_run_without_asking_the_model_again(
    make_planner_user: Callable[[], Any],
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    fake_llm: str,
) -> None:
    """Workers of the release before stored a step (record_reply_step_v1) and ran its calls in a second
    request. Left with its calls pending by such a worker, the step is run by the worker that takes over."""
    user = await make_planner_user()
    plan, text = await _christmas_eve(user, admin)
    conversation = await _kill_while_the_calls_run(user, start_worker("first"), admin, plan, text)
    job_id, holder = await admin.fetchrow(
        "select id, locked_by from internal.jobs where kind = 'chat_reply' and ordering_key = $1",
        f"conversation:{conversation}",
    )
    step = {
        "step": 1,
        "text": "",
        "calls": [
            {"tool_use_id": f"toolu_old_{i}", "name": "add_plan_item", "input": {"title": t, "date": "2026-12-24"}}
            for i, t in enumerate(("Wrap gifts", "Call grandma"))
        ],
    }
    async with admin.transaction():  # as the dead worker of the release before did, before its second request
        await admin.execute("set local role service_role")
        await admin.execute("select public.record_reply_step_v1($1, $2, $3::jsonb)", job_id, holder, json.dumps(step))
    start_worker("second")
    turns = await _completed_with_each_item_once(user, admin, fake_llm, conversation, plan, text)
    assert turns == [1, 2]  # the takeover did not ask the model for the stored step again


async def test_a_worker_killed_after_the_effects_commit_but_before_the_next_model_call(
    make_planner_user: Callable[[], Any],
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    fake_llm: str,
) -> None:
    user = await make_planner_user()
    first = start_worker("first")
    conversation = await user.conversation()
    await subscribe(user, conversation)
    text = (
        f'Two things {uuid.uuid4().hex[:6]} [[call:add_plan_item {{"title": "Pay rent"}}]]'
        ' [[call:add_plan_item {"title": "Book dentist"}]] [[hold:2]]'
    )
    await user.send(conversation, text)

    async def second_turn_asked() -> bool:
        return any(r["turn"] == 2 for r in await model_requests(fake_llm, text))

    await wait_until(second_turn_asked, 30, "the model asked for the turn after the tool results")
    first.kill()
    done_before = await admin.fetch(
        "select id, completed_at from public.tool_calls where conversation_id = $1 order by position",
        uuid.UUID(conversation),
    )
    assert len(done_before) == 2 and all(r["completed_at"] is not None for r in done_before)

    start_worker("second")
    reply = await reply_done(user, conversation, seconds=60)
    assert reply["status"] == "complete" and "2 tool result(s)" in reply["content"]
    assert [i["title"] for i in await plan_items(user)] == ["Pay rent", "Book dentist"]  # each once
    done_after = await admin.fetch(
        "select id, completed_at from public.tool_calls where conversation_id = $1 order by position",
        uuid.UUID(conversation),
    )
    assert [tuple(r) for r in done_after] == [tuple(r) for r in done_before]  # no call ran again
    turns = [r["turn"] for r in await model_requests(fake_llm, text)]
    assert turns == [1, 2, 2]  # the held second turn, asked again by the worker that took over
    # An app starts over on the later attempt's deltas: they carry the stored turn's text too.
    assert streamed_text(user, attempt=2) == reply["content"]


async def _wait_for(probe: Callable[[], Any], what: str) -> int:
    found: list[int] = []

    async def ready() -> bool:
        value = await probe()
        if value is not None:
            found.append(value)
        return value is not None

    await wait_until(ready, 30, what)
    return found[-1]
