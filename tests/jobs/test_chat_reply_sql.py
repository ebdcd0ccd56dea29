"""Chat replies at SQL level: one placeholder and one job per user message, lease-checked completion."""

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


async def new_conversation(admin: asyncpg.Connection) -> tuple[str, str]:
    user_id = str(uuid.uuid4())
    await admin.execute(
        "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
        uuid.UUID(user_id),
        f"{user_id}@example.com",
    )
    coach_id = await admin.fetchval("select id from public.coaches where slug = 'maya'")
    conversation_id = await admin.fetchval(
        "insert into public.conversations (user_id, coach_id) values ($1, $2) returning id",
        uuid.UUID(user_id),
        coach_id,
    )
    return user_id, str(conversation_id)


async def send(api: asyncpg.Connection, user_id: str, conversation_id: str, text: str) -> str:
    async with api.transaction():
        await act_as(api, "authenticated", user_id)
        return str(
            await api.fetchval(
                "insert into public.messages (conversation_id, content) values ($1, $2) returning id",
                uuid.UUID(conversation_id),
                text,
            )
        )


async def claim_reply(api: asyncpg.Connection, worker: str, conversation_id: str) -> dict[str, object]:
    async with api.transaction():
        await act_as(api, "service_role")
        rows = await api.fetch("select * from public.claim_jobs_v1($1, array['chat_reply'], 100, 60)", worker)
    mine = [r for r in rows if r["ordering_key"] == f"conversation:{conversation_id}"]
    assert len(mine) == 1
    return dict(mine[0])


def reply_of(job: dict[str, object]) -> uuid.UUID:
    """The assistant placeholder a chat_reply job answers into."""
    return uuid.UUID(json.loads(str(job["payload"]))["assistant_message_id"])


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


async def test_complete_writes_the_reply_and_finishes_the_job_once(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hello coach")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    async with api.transaction():
        await act_as(api, "service_role")
        await api.execute("select public.checkpoint_chat_reply_v1($1, 'w1', $2, 'Hel')", job["id"], reply_id)
        assert await admin.fetchval("select status from public.messages where id = $1", reply_id) == "pending"
    assert await admin.fetchval("select status from public.messages where id = $1", reply_id) == "streaming"
    async with api.transaction():
        await act_as(api, "service_role")
        await api.execute(
            "select public.complete_chat_reply_v1($1, 'w1', $2, 'Hello!', 'claude-x', 'chat_reply@v1', 10, 3, 5, 0)",
            job["id"],
            reply_id,
        )
    row = await admin.fetchrow("select * from public.messages where id = $1", reply_id)
    assert (row["status"], row["content"], row["model"], row["output_tokens"]) == ("complete", "Hello!", "claude-x", 3)
    assert row["completed_at"] is not None
    assert await admin.fetchval("select status from internal.jobs where id = $1", job["id"]) == "succeeded"
    usage = await admin.fetchrow(
        "select kind, model, input_tokens, cache_read_tokens from internal.ai_usage where subject_id = $1", reply_id
    )
    assert tuple(usage) == ("chat_reply", "claude-x", 10, 5)


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


async def test_a_worker_without_the_lease_writes_nothing(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hello")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    with pytest.raises(asyncpg.PostgresError) as info:
        async with api.transaction():
            await act_as(api, "service_role")
            await api.execute(
                "select public.complete_chat_reply_v1($1, 'intruder', $2, 'x', 'm', 'v', 1, 1)", job["id"], reply_id
            )
    assert info.value.sqlstate == "PT409"
    assert await admin.fetchval("select content from public.messages where id = $1", reply_id) == ""


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
        ("select public.complete_chat_reply_v1(1, 'w', $1, 'x', 'm', 'v', 1, 1)", (uuid.UUID(message_id),)),
        ("select public.checkpoint_chat_reply_v1(1, 'w', $1, 'x')", (uuid.UUID(message_id),)),
        ("select public.checkpoint_chat_replies_v1('w', $1)", (json.dumps([{"job_id": 1, "message_id": message_id}]),)),
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with api.transaction():
                await act_as(api, "authenticated", user_id)
                await api.execute(sql, *args)


async def test_context_has_what_the_prompt_needs(api: asyncpg.Connection, conversation: tuple[str, str]) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "First")
    first = await claim_reply(api, "w1", conversation_id)
    async with api.transaction():
        await act_as(api, "service_role")
        context = json.loads(await api.fetchval("select public.chat_reply_context_v1($1, 'w1')", first["id"]))
        reply_id = uuid.UUID(context["reply_id"])
        await api.execute(
            "select public.complete_chat_reply_v1($1, 'w1', $2, 'Reply one', 'm', 'v', 1, 1)", first["id"], reply_id
        )
    assert context["message"]["content"] == "First"
    assert context["coach"]["slug"] == "maya" and context["coach"]["intro"]
    assert context["prompt"]["prompt_version"].startswith("chat_reply@v")
    assert [h["content"] for h in context["history"]] == ["First"]

    await send(api, user_id, conversation_id, "Second")
    second = await claim_reply(api, "w1", conversation_id)
    async with api.transaction():
        await act_as(api, "service_role")
        context = json.loads(await api.fetchval("select public.chat_reply_context_v1($1, 'w1')", second["id"]))
    assert [(h["role"], h["content"]) for h in context["history"]] == [
        ("user", "First"),
        ("assistant", "Reply one"),
        ("user", "Second"),
    ]
    with pytest.raises(asyncpg.PostgresError) as info:
        async with api.transaction():
            await act_as(api, "service_role")
            await api.fetchval("select public.chat_reply_context_v1($1, 'other-worker')", second["id"])
    assert info.value.sqlstate == "PT409"


async def claim_v2(
    api: asyncpg.Connection, worker: str, kinds: list[str], complete: list[int] | None = None
) -> list[dict[str, Any]]:
    return (await claim_v2_answer(api, worker, kinds, complete))["jobs"]


async def claim_v2_answer(
    api: asyncpg.Connection, worker: str, kinds: list[str], complete: list[int] | None = None
) -> dict[str, Any]:
    async with api.transaction():
        await act_as(api, "service_role")
        answer = await api.fetchval("select public.claim_jobs_v2($1, $2, 100, 60, $3)", worker, kinds, complete or [])
    return dict(json.loads(answer))


async def test_claim_v2_brings_each_chat_reply_its_context(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Context please")
    plain_kind = f"test_{uuid.uuid4().hex[:10]}"  # a kind of its own: tests share the database
    await admin.execute("insert into internal.jobs (kind, payload) values ($1, '{}'), ($1, '{}')", plain_kind)
    [job] = [
        j for j in await claim_v2(api, "w1", ["chat_reply"]) if j["ordering_key"] == f"conversation:{conversation_id}"
    ]
    assert job["status"] == "running" and job["locked_by"] == "w1"
    context = job["context"]
    assert context["message"]["content"] == "Context please" and context["coach"]["slug"] == "maya"
    async with api.transaction():  # the same as asking for it afterwards
        await act_as(api, "service_role")
        asked = json.loads(await api.fetchval("select public.chat_reply_context_v1($1, 'w1')", job["id"]))
    assert context == asked
    plain = await claim_v2(api, "w1", [plain_kind])
    assert len(plain) == 2 and all(j["context"] is None and j["kind"] == plain_kind for j in plain)


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
    jobs = {j["ordering_key"]: j for j in await claim_v2(api, "w1", ["chat_reply"])}
    assert jobs[f"conversation:{conversation_id}"]["context"] is None
    assert jobs[f"conversation:{other_conversation}"]["context"]["message"]["content"] == "two"


async def test_complete_v2_broadcasts_the_tail_and_done_from_the_database(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hi")
    job = await claim_reply(api, "w1", conversation_id)
    reply_id = reply_of(job)
    complete = "select public.complete_chat_reply_v2($1, $2, $3, 'Hello there', 'm', 'v', 3, 2, 0, 0, $4, $5)"
    topic = f"conversation:{conversation_id}"
    with pytest.raises(asyncpg.PostgresError) as info:  # not the lease holder: nothing written, nothing sent
        async with api.transaction():
            await act_as(api, "service_role")
            await api.execute(complete, job["id"], "intruder", reply_id, " there", 2)
    assert info.value.sqlstate == "PT409"
    assert await admin.fetchval("select count(*) from realtime.messages where topic = $1", topic) == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with api.transaction():
            await act_as(api, "authenticated", user_id)
            await api.execute(complete, job["id"], "w1", reply_id, " there", 2)

    async with api.transaction():
        await act_as(api, "service_role")
        await api.execute(complete, job["id"], "w1", reply_id, " there", 2)
    sent = await admin.fetch(
        "select event, payload, private from realtime.messages where topic = $1 order by ctid", topic
    )
    events = [(r["event"], json.loads(r["payload"]), r["private"]) for r in sent]
    assert [(e, p.get("seq"), p.get("text"), private) for e, p, private in events] == [
        ("delta", 2, " there", True),
        ("done", None, None, True),
    ]
    assert all(p["message_id"] == str(reply_id) for _, p, _ in events)
    row = await admin.fetchrow("select status, content from public.messages where id = $1", reply_id)
    assert (row["status"], row["content"]) == ("complete", "Hello there")
    job_status = await admin.fetchval("select status from internal.jobs where id = $1", job["id"])
    assert job_status == "succeeded"


async def test_claim_v2_completes_the_result_less_jobs_it_is_given(
    api: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    kind = f"test_{uuid.uuid4().hex[:10]}"  # a kind of its own: tests share the database
    await admin.execute("insert into internal.jobs (kind, payload) select $1, '{}' from generate_series(1, 3)", kind)
    first, second, third = sorted(j["id"] for j in await claim_v2(api, "w1", [kind]))
    await admin.execute(  # the third's lease expired and another worker took it over
        "update internal.jobs set locked_by = 'w2' where id = $1", third
    )
    answer = await claim_v2_answer(api, "w1", [kind], [first, second, third])
    assert answer["jobs"] == [] and sorted(answer["completed"]) == [first, second]
    rows = await admin.fetch("select id, status, lease_until from internal.jobs where kind = $1 order by id", kind)
    assert [(r["status"], r["lease_until"] is None) for r in rows] == [
        ("succeeded", True),
        ("succeeded", True),
        ("running", False),
    ]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with api.transaction():
            await act_as(api, "authenticated", str(uuid.uuid4()))
            await api.execute("select public.claim_jobs_v2('w1', array[$2], 1, 60, array[$1::bigint])", third, kind)


async def claim_v3(
    api: asyncpg.Connection, worker: str, kinds: list[str], finish: list[dict[str, Any]], limit: int = 100
) -> tuple[dict[str, Any], str]:
    """claim_jobs_v3's answer, and the synchronous_commit its transaction commits with."""
    async with api.transaction():
        await act_as(api, "service_role")
        answer = await api.fetchval(
            "select public.claim_jobs_v3($1, $2, $3, 60, $4::jsonb)", worker, kinds, limit, json.dumps(finish)
        )
        synchronous_commit = await api.fetchval("select current_setting('synchronous_commit')")
    return dict(json.loads(answer)), str(synchronous_commit)


async def test_claim_v3_finishes_each_item_on_its_own_then_claims(
    api: asyncpg.Connection, admin: asyncpg.Connection, conversation: tuple[str, str]
) -> None:
    user_id, conversation_id = conversation
    await send(api, user_id, conversation_id, "Hi")
    chat = await claim_reply(api, "w1", conversation_id)
    reply_id = str(reply_of(chat))
    kind = f"test_{uuid.uuid4().hex[:10]}"  # a kind of its own: tests share the database
    await admin.execute("insert into internal.jobs (kind, payload) select $1, '{}' from generate_series(1, 5)", kind)
    acked, with_result, lost_ack, lost_result, malformed = sorted(j["id"] for j in await claim_v2(api, "w1", [kind]))
    await admin.execute(  # their leases expired and another worker took them over
        "update internal.jobs set locked_by = 'w2' where id = any($1::bigint[])", [lost_ack, lost_result]
    )
    await admin.execute("insert into internal.jobs (kind, payload) values ($1, '{\"next\": true}')", kind)
    reply = {
        "message_id": reply_id,
        "content": "Hello there",
        "model": "m",
        "prompt_version": "v",
        "input_tokens": 3,
        "output_tokens": 2,
        "tail": " there",
        "tail_seq": 2,
    }
    answer, synchronous_commit = await claim_v3(
        api,
        "w1",
        [kind],
        [
            {"id": chat["id"], "chat_reply": reply},
            {"id": acked},
            {"id": with_result, "result": {"answer": 42}},
            {"id": lost_ack},
            {"id": lost_result, "result": {"answer": 0}},
            {"id": malformed, "chat_reply": {**reply, "message_id": "not-a-uuid"}},
        ],
    )
    finished = answer["finished"]
    assert {k: v and v["code"] for k, v in finished.items()} == {
        str(chat["id"]): None,
        str(acked): None,
        str(with_result): None,
        str(lost_ack): "PT409",
        str(lost_result): "PT409",
        str(malformed): "22P02",
    }
    assert [j["payload"] for j in answer["jobs"]] == [{"next": True}]  # and it claimed after finishing
    assert synchronous_commit == "on"  # finished work is flushed before the worker hears it is done
    rows = await admin.fetch("select id, status, result from internal.jobs where kind = $1 order by id", kind)
    assert [(r["status"], r["result"] and json.loads(r["result"])) for r in rows] == [
        ("succeeded", None),
        ("succeeded", {"answer": 42}),
        ("running", None),
        ("running", None),
        ("running", None),  # its bad item changed nothing
        ("running", None),  # the job claimed just now
    ]
    message = await admin.fetchrow("select status, content from public.messages where id = $1", uuid.UUID(reply_id))
    assert (message["status"], message["content"]) == ("complete", "Hello there")
    sent = await admin.fetch(
        "select event, payload from realtime.messages where topic = $1 order by ctid", f"conversation:{conversation_id}"
    )
    assert [(r["event"], json.loads(r["payload"]).get("seq")) for r in sent] == [("delta", 2), ("done", None)]

    nothing, synchronous_commit = await claim_v3(api, "w1", [kind], [])
    assert nothing == {"jobs": [], "finished": {}} and synchronous_commit == "off"  # a bare claim is not flushed


async def test_claim_v3_refuses_bad_input_and_other_roles(api: asyncpg.Connection) -> None:
    for finish in ({"id": 1}, [{"job": 1}], ["1"]):
        with pytest.raises(asyncpg.PostgresError) as info:
            async with api.transaction():
                await act_as(api, "service_role")
                await api.execute("select public.claim_jobs_v3('w1', array['x'], 1, 60, $1::jsonb)", json.dumps(finish))
        assert info.value.sqlstate == "22023"
    for role in ("authenticated", "anon"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with api.transaction():
                await act_as(api, role, str(uuid.uuid4()))
                await api.execute("select public.claim_jobs_v3('w1', array['x'], 1, 60, '[]')")
