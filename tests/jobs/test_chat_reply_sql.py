"""Chat replies at SQL level: one placeholder and one job per user message, the context the claim brings,
and the lease-checked finish through the job-kind contract (claim_jobs_v4 → internal.chat_reply_finish)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD


async def act_as(conn: asyncpg.Connection, role: str, user_id: str | None = None) -> None:
    """Inside a transaction: what PostgREST does for a request."""
    await conn.execute("select set_config('role', $1, true)", role)
    claims = {"role": role} | ({"sub": user_id} if user_id else {})
    await conn.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))


@pytest.fixture
async def api(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(role_dsn(database, "authenticator", PASSWORD))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def conversation(admin: asyncpg.Connection) -> tuple[str, str]:
    """(user id, conversation id) of a new user talking to the seeded coach Maya (the catalogue stays as seeded)."""
    return await new_conversation(admin)


async def new_conversation(admin: asyncpg.Connection, coach: str = "maya") -> tuple[str, str]:
    user_id = str(uuid.uuid4())
    await admin.execute(
        "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
        uuid.UUID(user_id),
        f"{user_id}@example.com",
    )
    coach_id = await admin.fetchval("select id from public.coaches where slug = $1", coach)
    conversation_id = await admin.fetchval(
        "insert into public.conversations (user_id, coach_id) values ($1, $2) returning id",
        uuid.UUID(user_id),
        coach_id,
    )
    return user_id, str(conversation_id)


async def send(api: asyncpg.Connection, user_id: str, conversation_id: str, text: str, *, clear: bool = True) -> str:
    """The user's message; cleared for coaching as the safety classifier would (unless `clear` is false)."""
    async with api.transaction():
        await act_as(api, "authenticated", user_id)
        message_id = str(
            await api.fetchval(
                "insert into public.messages (conversation_id, content) values ($1, $2) returning id",
                uuid.UUID(conversation_id),
                text,
            )
        )
    if clear:
        await assess(api, message_id, "none")
    return message_id


async def assess(api: asyncpg.Connection, message_id: str, risk: str, categories: tuple[str, ...] = ()) -> None:
    """What the safety_assessment job's finish does with the classifier's answer."""
    async with api.transaction():
        await act_as(api, "service_role")
        await api.execute(
            "insert into internal.safety_assessments (message_id, user_id, source, risk_level, categories, model, "
            "prompt_version) select id, user_id, 'model', $2, $3, 'classifier-x', 'safety_classifier@v1' "
            "from public.messages where id = $1",
            uuid.UUID(message_id),
            risk,
            list(categories),
        )
        await api.execute("select internal.decide_message_safety($1)", uuid.UUID(message_id))


async def claim_v4(
    api: asyncpg.Connection, worker: str, kinds: list[str], finish: list[dict[str, Any]], limit: int = 100
) -> tuple[dict[str, Any], str]:
    """claim_jobs_v4's answer, and the synchronous_commit its transaction commits with."""
    async with api.transaction():
        await act_as(api, "service_role")
        answer = await api.fetchval(
            "select public.claim_jobs_v4($1, $2, $3, 60, $4::jsonb)", worker, kinds, limit, json.dumps(finish)
        )
        synchronous_commit = await api.fetchval("select current_setting('synchronous_commit')")
    return dict(json.loads(answer)), str(synchronous_commit)


async def claim_reply(api: asyncpg.Connection, worker: str, conversation_id: str) -> dict[str, Any]:
    answer, _ = await claim_v4(api, worker, ["chat_reply"], [])
    mine = [j for j in answer["jobs"] if j["ordering_key"] == f"conversation:{conversation_id}"]
    assert len(mine) == 1
    return dict(mine[0])


async def finish_reply(
    api: asyncpg.Connection, worker: str, job: dict[str, Any], content: str, **output: Any
) -> dict[str, Any] | None:
    """Finish a chat_reply through the claim; None when done, else {code, message}."""
    usage = [{"model": "claude-x", "prompt_version": "chat_reply@v1", "input_tokens": 10, "output_tokens": 3,
              "cache_read_tokens": 5}]  # fmt: skip
    answer, _ = await claim_v4(
        api, worker, ["chat_reply"], [{"id": job["id"], "output": {"content": content, **output}, "usage": usage}], 0
    )
    outcome: dict[str, Any] | None = answer["finished"][str(job["id"])]
    return outcome


def reply_of(job: dict[str, Any]) -> uuid.UUID:
    """The assistant placeholder a chat_reply job answers into."""
    return uuid.UUID(job["payload"]["assistant_message_id"])


async def test_user_message_gets_a_pending_reply_and_a_job(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    message_id = await send(api, user_id, conversation_id, "I slept badly again.")
    async with api.transaction():  # the user sees "coach is typing" at once, through RLS
        await act_as(api, "authenticated", user_id)
        rows = await api.fetch(
            "select role, status, reply_to from public.messages where conversation_id = $1 order by created_at",
            uuid.UUID(conversation_id),
        )
    assert [(r["role"], r["status"], str(r["reply_to"])) for r in rows] == [
        ("user", "complete", "None"),
        ("assistant", "pending", message_id),
    ]
    job = await admin.fetchrow("select * from internal.jobs where dedupe_key = $1", f"chat_reply:{message_id}")
    assert job["kind"] == "chat_reply" and job["status"] == "queued"
    assert json.loads(job["payload"])["message_id"] == message_id


async def test_finish_writes_the_reply_and_finishes_the_job_once(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hello coach")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    item = [{"job_id": job["id"], "message_id": str(reply_id), "content": "Hel", "seq": 2, "attempt": 1}]
    async with api.transaction():
        await act_as(api, "service_role")
        await api.fetchval("select public.checkpoint_chat_replies_v1('w1', $1)", json.dumps(item))
    streaming = await admin.fetchrow("select * from public.messages where id = $1", reply_id)
    # The text of deltas 1..2 of attempt 1: a client catching up applies deltas 3 and on.
    stored = tuple(streaming[k] for k in ("status", "content", "delta_seq", "delta_attempt"))
    assert stored == ("streaming", "Hel", 2, 1)
    assert await finish_reply(api, "w1", job, "Hello!") is None
    row = await admin.fetchrow("select * from public.messages where id = $1", reply_id)
    assert (row["status"], row["content"], row["model"], row["prompt_version"], row["output_tokens"]) == (
        "complete", "Hello!", "claude-x", "chat_reply@v1", 3,
    )  # fmt: skip
    assert row["completed_at"] is not None
    assert await admin.fetchval("select status from internal.jobs where id = $1", job["id"]) == "succeeded"
    usage = await admin.fetchrow(
        "select kind, user_id::text, model, input_tokens, cache_read_tokens from internal.ai_usage"
        " where subject_id = $1",
        reply_id,
    )
    assert tuple(usage) == ("chat_reply", user_id, "claude-x", 10, 5)
    again = await finish_reply(api, "w1", job, "Hello twice")  # the job is done: nobody holds its lease
    assert again is not None and again["code"] == "PT409"
    assert await admin.fetchval("select content from public.messages where id = $1", reply_id) == "Hello!"


async def test_checkpoints_of_several_replies_in_one_call_each_on_its_own(
    api: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    # Two replies streamed by w1, one of them meanwhile taken over by w2: one call stores both partial
    # texts it may store and refuses the other (PT409), without undoing the first.
    (user_a, first), (user_b, second) = await new_conversation(admin), await new_conversation(admin)
    await send(api, user_a, first, "One")
    mine = await claim_reply(api, "w1", first)
    await send(api, user_b, second, "Two")
    lost = await claim_reply(api, "w1", second)
    await admin.execute("update internal.jobs set locked_by = 'w2' where id = $1", lost["id"])
    items = [
        {"job_id": mine["id"], "message_id": str(reply_of(mine)), "content": "Partial o"},
        {"job_id": lost["id"], "message_id": str(reply_of(lost)), "content": "Partial t"},
    ]
    async with api.transaction():
        await act_as(api, "service_role")
        outcome = json.loads(
            await api.fetchval("select public.checkpoint_chat_replies_v1('w1', $1)", json.dumps(items))
        )
    assert outcome[str(mine["id"])] is None
    assert outcome[str(lost["id"])]["code"] == "PT409"
    stored = await admin.fetch(
        "select id, status, content from public.messages where id = any($1::uuid[])", [reply_of(mine), reply_of(lost)]
    )
    by_id = {row["id"]: (row["status"], row["content"]) for row in stored}
    assert by_id == {reply_of(mine): ("streaming", "Partial o"), reply_of(lost): ("pending", "")}
    with pytest.raises(asyncpg.InvalidParameterValueError):
        async with api.transaction():
            await act_as(api, "service_role")
            await api.execute("select public.checkpoint_chat_replies_v1('w1', $1)", json.dumps([{"id": 1}]))
    # A worker of the release before sends no seq or attempt: what the text holds is then not known.
    # A seq that is not a number refuses the item.
    mine_reply = str(reply_of(mine))
    for item, refused in (
        ({"job_id": mine["id"], "message_id": mine_reply, "content": "Partial on"}, None),
        ({"job_id": mine["id"], "message_id": mine_reply, "content": "Partial one", "seq": "2"}, "22023"),
    ):
        async with api.transaction():
            await act_as(api, "service_role")
            answer = await api.fetchval("select public.checkpoint_chat_replies_v1('w1', $1)", json.dumps([item]))
        assert (json.loads(answer)[str(mine["id"])] or {}).get("code") == refused
    query = "select content, delta_seq, delta_attempt from public.messages where id = $1"
    row = await admin.fetchrow(query, reply_of(mine))
    assert tuple(row) == ("Partial on", None, None)


async def test_a_worker_without_the_lease_writes_nothing(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hello")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    refused = await finish_reply(api, "intruder", job, "x", tail=" x", tail_seq=1)
    assert refused is not None and refused["code"] == "PT409"
    assert await admin.fetchval("select content from public.messages where id = $1", reply_id) == ""
    topic = f"conversation:{conversation_id}"
    assert await admin.fetchval("select count(*) from realtime.messages where topic = $1", topic) == 0


async def test_a_dead_job_fails_the_reply_with_a_readable_message(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hello")
    job = await claim_reply(api, "w1", conversation_id)
    async with api.transaction():
        await act_as(api, "service_role")
        await api.execute("select public.fail_job_v1($1, 'w1', 'anthropic 400: bad request', false)", job["id"])
    reply_id = reply_of(job)
    row = await admin.fetchrow("select status, error from public.messages where id = $1", reply_id)
    assert row["status"] == "failed"
    assert row["error"].startswith("Sorry, your coach could not reply")


async def test_a_dead_assessment_leaves_its_message_decided_by_the_rules(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    """The classifier's job given up (its kind's on_dead_function): the message is decided without it, so
    its reply is not held for ever; a message decided already keeps its decision."""
    user_id, conversation_id = conversation
    undecided = await send(api, user_id, conversation_id, "A quiet week", clear=False)
    decided = await send(api, user_id, conversation_id, "Another quiet week")
    for message_id in (undecided, decided):
        assert await admin.fetchval(
            "update internal.jobs set status = 'dead', last_error = 'classifier down' "
            "where dedupe_key = 'safety_assessment:' || $1 returning id",
            message_id,
        )
    rows = dict(
        await admin.fetch(
            "select message_id::text, (decided_by, cleared) from internal.message_safety"
            " where message_id = any($1::uuid[])",
            [undecided, decided],
        )
    )
    assert rows == {undecided: ("rules", False), decided: ("model", True)}


async def test_users_cannot_write_replies_or_call_worker_functions(
    api: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    message_id = await send(api, user_id, conversation_id, "Hello")
    for sql, args in (
        (
            "insert into public.messages (conversation_id, role, content) values ($1, 'assistant', 'fake')",
            (uuid.UUID(conversation_id),),
        ),
        ("select public.claim_jobs_v4('w', array['chat_reply'], 0, 60, $1::jsonb)", (json.dumps([{"id": 1}]),)),
        ("select public.checkpoint_chat_replies_v1('w', $1)", (json.dumps([{"job_id": 1, "message_id": message_id}]),)),
        ("select public.record_reply_step_v1(1, 'w', '{}')", ()),
        ("select public.run_tool_calls_v1(1, 'w', 1)", ()),
        ("select public.run_reply_step_v1(1, 'w', '{\"step\": 1}')", ()),
        ("select internal.chat_reply_finish(null, '{}', '[]')", ()),
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with api.transaction():
                await act_as(api, "authenticated", user_id)
                await api.execute(sql, *args)


async def test_the_claim_brings_what_the_prompt_needs(api: asyncpg.Connection, conversation: tuple[str, str]) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "First")
    first = await claim_reply(api, "w1", conversation_id)
    context = first["context"]
    assert first["context_error"] is None
    assert context["message"]["content"] == "First"
    assert context["coach"]["slug"] == "maya" and context["coach"]["intro"]
    assert context["prompt"]["prompt_version"].startswith("chat_reply@v")
    assert context["persona"]["prompt_version"] == "persona.maya@v1"
    assert [h["content"] for h in context["history"]] == ["First"]
    assert context["tools"] == [] and context["steps"] == []  # Maya has no tools
    assert context["planner"] is None  # Maya's prompt places no goals, plan or date (20261210001100)
    assert await finish_reply(api, "w1", first, "Reply one") is None

    await send(api, user_id, conversation_id, "Second")
    second = await claim_reply(api, "w1", conversation_id)
    assert [(h["role"], h["content"]) for h in second["context"]["history"]] == [
        ("user", "First"),
        ("assistant", "Reply one"),
        ("user", "Second"),
    ]


async def test_one_broken_context_does_not_block_the_claim(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    first = await send(api, user_id, conversation_id, "one")
    await admin.execute(  # its user message is gone as far as the job can tell
        "update internal.jobs set payload = jsonb_set(payload, '{message_id}', to_jsonb(gen_random_uuid()::text))"
        " where dedupe_key = $1",
        f"chat_reply:{first}",
    )
    other_user, other_conversation = await new_conversation(admin)
    await send(api, other_user, other_conversation, "two")
    answer, _ = await claim_v4(api, "w1", ["chat_reply"], [])
    jobs = {j["ordering_key"]: j for j in answer["jobs"]}
    broken = jobs[f"conversation:{conversation_id}"]
    assert broken["context"] is None and broken["context_error"]["code"] == "PT404"
    assert jobs[f"conversation:{other_conversation}"]["context"]["message"]["content"] == "two"


async def test_finish_broadcasts_the_tail_and_done_from_the_database(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hi")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    kind = f"test_{uuid.uuid4().hex[:10]}"  # a queued job of another kind, claimed after the finish
    await admin.execute(
        "insert into internal.job_kinds (name, description, context_function, finish_function) "
        "select $1, 'test', context_function, finish_function from internal.job_kinds where name = 'followup'",
        kind,
    )
    await admin.execute("insert into internal.jobs (kind, payload) values ($1, '{\"next\": true}')", kind)
    output = {"content": "Hello there", "tail": " there", "tail_seq": 2}
    answer, synchronous_commit = await claim_v4(
        api, "w1", [kind], [{"id": job["id"], "output": output, "usage": [{"model": "m", "prompt_version": "v"}]}]
    )
    assert answer["finished"] == {str(job["id"]): None}
    assert [j["payload"] for j in answer["jobs"]] == [{"next": True}]  # and it claimed after finishing
    assert answer["jobs"][0]["context_error"]["code"] == "PT404"  # (no such check-in: a context error, not a failure)
    assert synchronous_commit == "on"  # finished work is flushed before the worker hears it is done
    sent = await admin.fetch(
        "select event, payload, private from realtime.messages where topic = $1 order by ctid",
        f"conversation:{conversation_id}",
    )
    events = [(r["event"], json.loads(r["payload"]), r["private"]) for r in sent]
    assert [(e, p.get("seq"), p.get("text"), p.get("attempt"), private) for e, p, private in events] == [
        ("delta", 2, " there", 1, True),  # under the job's attempt, as the worker's own deltas
        ("done", None, None, None, True),
    ]
    assert all(p["message_id"] == str(reply_id) for _, p, _ in events)
    row = await admin.fetchrow("select status, content from public.messages where id = $1", reply_id)
    assert (row["status"], row["content"]) == ("complete", "Hello there")
    nothing, synchronous_commit = await claim_v4(api, "w1", [kind], [])
    assert (nothing["jobs"], nothing["finished"], synchronous_commit) == ([], {}, "off")  # a bare claim: not flushed


async def test_a_finish_that_asks_for_compaction_queues_it_once(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Long story")
    job = await claim_reply(api, "w1", conversation_id)
    bad = await finish_reply(api, "w1", job, "Ok", tail="x")  # a tail without its delta number
    assert bad is not None and bad["code"] == "22023"
    assert await finish_reply(api, "w1", job, "Ok", compact=True) is None
    queued = await admin.fetch(
        "select kind, payload, ordering_key from internal.jobs where dedupe_key = $1",
        f"conversation_summary:{conversation_id}",
    )
    assert [(q["kind"], json.loads(q["payload"])["user_id"], q["ordering_key"]) for q in queued] == [
        ("conversation_summary", user_id, f"conversation:{conversation_id}")
    ]


async def test_claim_v4_refuses_bad_input_and_other_roles(api: asyncpg.Connection) -> None:
    for finish in ({"id": 1}, [{"job": 1}], ["1"]):
        with pytest.raises(asyncpg.PostgresError) as info:
            async with api.transaction():
                await act_as(api, "service_role")
                await api.execute("select public.claim_jobs_v4('w1', array['x'], 1, 60, $1::jsonb)", json.dumps(finish))
        assert info.value.sqlstate == "22023"
    for role in ("authenticated", "anon"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with api.transaction():
                await act_as(api, role, str(uuid.uuid4()))
                await api.execute("select public.claim_jobs_v4('w1', array['x'], 1, 60, '[]')")


async def test_a_safety_decision_is_broadcast_to_the_workers_unless_its_finisher_holds_the_reply(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    """The worker that finishes an assessment and holds the reply hears the decision from its finish
    (20261210000800); any other holder, or none yet, gets the `safety` broadcast on workers:jobs."""
    user_id, conversation_id = conversation

    async def lease(key: str, worker: str) -> asyncpg.Record:  # as claim_jobs_v4 leases a job
        row = await admin.fetchrow(
            "update internal.jobs set status = 'running', attempts = attempts + 1, locked_by = $2, "
            "lease_until = now() + interval '1 minute' where dedupe_key = $1 returning *",
            key,
            worker,
        )
        assert row is not None
        return row

    for holder in ("w1", "w2", "nobody"):
        message_id = await send(api, user_id, conversation_id, f"A quiet week ({holder})", clear=False)
        if holder != "nobody":
            await lease(f"chat_reply:{message_id}", holder)
        job = await lease(f"safety_assessment:{message_id}", "w1")
        item = {"id": job["id"], "output": {"risk_level": "none", "categories": []},
                "usage": [{"model": "classifier-x", "prompt_version": "safety_classifier@v1"}]}  # fmt: skip
        answer, _ = await claim_v4(api, "w1", ["safety_assessment"], [item], 0)
        assert answer["finished"] == {str(job["id"]): None}
        sent = await admin.fetch(
            "select payload from realtime.messages where topic = 'workers:jobs' and event = 'safety' "
            "and payload ->> 'message_id' = $1",
            message_id,
        )
        heard = [(p["message_id"], p["cleared"]) for p in (json.loads(r["payload"]) for r in sent)]
        assert heard == ([] if holder == "w1" else [(message_id, True)]), holder


async def test_a_decision_made_in_its_messages_insert_is_broadcast_to_no_worker(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    """The rules decide a crisis in the message's insert: no worker can hold a reply to a message not yet
    committed, so no `safety` goes out on workers:jobs (20261210001000). The decision itself is made."""
    user_id, conversation_id = conversation
    message_id = await send(api, user_id, conversation_id, "I want to kill myself", clear=False)
    decision = await admin.fetchrow(
        "select risk_level, cleared from internal.message_safety where message_id = $1", uuid.UUID(message_id)
    )
    assert decision is not None and decision["risk_level"] in ("elevated", "imminent") and not decision["cleared"]
    sent = await admin.fetchval(
        "select count(*) from realtime.messages where topic = 'workers:jobs' and event = 'safety' "
        "and payload ->> 'message_id' = $1",
        message_id,
    )
    assert sent == 0


async def test_the_planners_view_comes_with_a_prompt_that_places_it(
    api: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    """Ada's prompt places {{goals}}, {{plan}} and {{today_date}}: her reply's context has the planner's view,
    with the user's active goals (20261210001100)."""
    user_id, conversation_id = await new_conversation(admin, "ada")
    await admin.execute("insert into public.goals (user_id, title) values ($1, 'Run a 10k')", uuid.UUID(user_id))
    await send(api, user_id, conversation_id, "What is on today?")
    claimed = await claim_reply(api, "w1", conversation_id)
    planner = claimed["context"]["planner"]
    assert "{{goals}}" in claimed["context"]["prompt"]["template"]
    assert [g["title"] for g in planner["goals"]] == ["Run a 10k"] and planner["today"]
