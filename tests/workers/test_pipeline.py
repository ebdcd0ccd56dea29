"""The reply pipeline end to end: official clients as the user, real worker processes, a fake model over HTTP."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import UserFactory, WorkerProcess, all_complete, replies, streamed_text, subscribe
from workers.kinds.chat_reply import CUT_SHORT_NOTE, REFUSAL_NOTE


async def test_a_message_streams_one_reply(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)

    sent = await user.send(conversation, "I want to sleep better this week.")
    pending = await replies(user, conversation)
    assert len(pending) == 1 and pending[0]["reply_to"] == sent["id"]
    assert pending[0]["status"] in ("pending", "streaming", "complete")

    await asyncio.wait_for(done.wait(), 20)
    await wait_until(lambda: all_complete(user, conversation, 1), 10, "the complete reply row")
    [reply] = await replies(user, conversation)
    assert streamed_text(user) == reply["content"]
    assert {p["attempt"] for e, p in user.broadcasts if e == "delta"} == {1}
    assert reply["content"] == "Echo: I want to sleep better this week."
    assert reply["status"] == "complete" and reply["reply_to"] == sent["id"]
    assert reply["model"] == "claude-fake-1" and reply["output_tokens"] > 0 and reply["input_tokens"] > 0
    assert reply["prompt_version"]


async def test_replies_in_a_conversation_keep_the_users_order(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("a")
    start_worker("b")
    user = await make_user()
    conversation = await user.conversation()
    texts = [f"message {i}" for i in range(5)]
    for text in texts:
        await user.send(conversation, text)
    await wait_until(lambda: all_complete(user, conversation, 5), 30, "five replies")
    rows = await user.messages(conversation)
    by_id = {r["id"]: r for r in rows}
    answers = sorted((r for r in rows if r["role"] == "assistant"), key=lambda r: r["completed_at"])
    assert [by_id[r["reply_to"]]["content"] for r in answers] == texts
    # Each reply saw the previous turns: the fake echoes only the last user message, so check order of
    # completion instead of content, plus exactly one reply per message.
    assert len({r["reply_to"] for r in answers}) == 5


async def test_racing_workers_give_each_message_exactly_one_reply(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    for name in ("r1", "r2", "r3"):
        start_worker(name)
    user = await make_user()
    conversations = [await user.conversation() for _ in range(6)]
    for conversation in conversations:
        for i in range(3):
            await user.send(conversation, f"hello {i}")
    for conversation in conversations:
        await wait_until(lambda c=conversation: all_complete(user, c, 3), 40, "three replies")
    conn = await asyncpg.connect(stack.dsn)
    try:
        counts = await conn.fetch(
            "select m.id, count(r.id) as replies from public.messages m "
            "left join public.messages r on r.reply_to = m.id "
            "where m.user_id = $1 and m.role = 'user' group by m.id",
            uuid.UUID(user.user_id),
        )
    finally:
        await conn.close()
    assert len(counts) == 18 and all(r["replies"] == 1 for r in counts)


@pytest.fixture
async def text_piling_up(admin: asyncpg.Connection) -> AsyncIterator[None]:
    """Deltas every 1.5 s, checkpoints every 0.4 s: a checkpoint comes while text waits for its delta."""
    keys = ("reply.delta_interval_ms", "reply.checkpoint_interval_ms")
    before = await admin.fetch("select key, value from internal.settings where key = any($1)", list(keys))
    await admin.execute("update internal.settings set value = '1500' where key = $1", keys[0])
    await admin.execute("update internal.settings set value = '400' where key = $1", keys[1])
    yield
    for row in before:
        await admin.execute("update internal.settings set value = $2 where key = $1", row["key"], row["value"])


@pytest.mark.usefixtures("text_piling_up")
@pytest.mark.parametrize(
    ("coach", "text"),
    [
        (None, "[[slow]] tell me about a good evening routine for me"),
        # A tool-using reply: storing its step (with the turn's text) must keep the row's promise too.
        ("ada", '[[slow]] plan my evening [[call:add_plan_item {"title": "Read a chapter"}]]'),
    ],
    ids=["plain", "tool step"],
)
async def test_a_client_joining_mid_reply_catches_up_from_the_row(
    make_user: UserFactory,
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    coach: str | None,
    text: str,
) -> None:
    start_worker()
    user = await make_user()
    if coach:
        user.coach_id = str(await admin.fetchval("select id from public.coaches where slug = $1", coach))
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    await user.send(conversation, text)
    seen: set[tuple[str, int | None, int | None]] = set()

    async def watch() -> None:  # what an app reads when it (re)joins mid-reply, every moment of the stream
        while not done.is_set():
            rows = await replies(user, conversation)
            if rows and rows[0]["status"] == "streaming":
                seen.add((rows[0]["content"], rows[0]["delta_seq"], rows[0]["delta_attempt"]))
            await asyncio.sleep(0.05)

    await asyncio.wait_for(watch(), 30)
    await wait_until(lambda: all_complete(user, conversation, 1), 10, "the complete reply row")
    [reply] = await replies(user, conversation)
    assert any(seq for _, seq, _ in seen), seen  # a checkpoint holding some deltas was read
    for content, seq, attempt in seen:
        # The row's text holds deltas 1..delta_seq of its attempt: with the later ones it is the whole reply.
        later = streamed_text(user, attempt=attempt, after=seq or 0)
        assert content + later == reply["content"], (content, seq)


async def test_a_worker_killed_mid_stream_is_taken_over(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    victim = start_worker("victim")
    user = await make_user()
    conversation = await user.conversation()
    await subscribe(user, conversation)
    await user.send(conversation, "[[slow]] please take your time with this one")

    async def streaming() -> bool:
        rows = await replies(user, conversation)
        return bool(rows) and rows[0]["status"] == "streaming" and any(e == "delta" for e, _ in user.broadcasts)

    await wait_until(streaming, 20, "the reply to start streaming")
    victim.kill()
    start_worker("rescuer")
    await wait_until(lambda: all_complete(user, conversation, 1), 40, "the rescued reply")
    [reply] = await replies(user, conversation)
    assert reply["status"] == "complete"
    assert reply["content"] == "Echo: please take your time with this one"
    # The rescuer generated the reply again from the start: its deltas count from 1 under attempt 2, so
    # that an app drops the victim's partial text instead of mixing the two.
    assert {p["attempt"] for e, p in user.broadcasts if e == "delta"} == {1, 2}
    assert streamed_text(user, attempt=2) == reply["content"]
    conn = await asyncpg.connect(stack.dsn)
    try:
        job = await conn.fetchrow(
            "select status, attempts, locked_by from internal.jobs where dedupe_key = $1",
            f"chat_reply:{reply['reply_to']}",
        )
    finally:
        await conn.close()
    assert (job["status"], job["attempts"]) == ("succeeded", 2)


async def test_rate_limit_is_retried_and_a_bad_request_fails_readably(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    start_worker()
    user = await make_user()
    retried, rejected = await user.conversation(), await user.conversation()
    await user.send(retried, "[[429]] busy day")
    await user.send(rejected, "[[400]] this request is refused")
    await wait_until(lambda: all_complete(user, retried, 1), 30, "the retried reply")
    await wait_until(lambda: all_complete(user, rejected, 1), 30, "the failed reply")
    [ok] = await replies(user, retried)
    [failed] = await replies(user, rejected)
    assert ok["status"] == "complete" and ok["content"] == "Echo: busy day"
    assert failed["status"] == "failed" and failed["error"].startswith("Sorry, your coach could not reply")
    conn = await asyncpg.connect(stack.dsn)
    try:
        problem = await conn.fetchrow(
            "select status, last_error from internal.job_problems where payload ->> 'message_id' = $1",
            failed["reply_to"],
        )
    finally:
        await conn.close()
    assert problem["status"] == "dead" and "scripted permanent error" in problem["last_error"]


async def test_a_malformed_job_is_dead_and_the_worker_carries_on(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], stack: Stack
) -> None:
    worker = start_worker()
    conn = await asyncpg.connect(stack.dsn)
    try:
        job_id = await conn.fetchval(
            "select internal.enqueue_job('chat_reply', $1::jsonb)", json.dumps({"message_id": "not-a-uuid"})
        )
        await wait_until(lambda: _status_is(conn, job_id, "dead"), 20, "the malformed job to be dead")
        error = await conn.fetchval("select last_error from internal.jobs where id = $1", job_id)
    finally:
        await conn.close()
    assert 'invalid input syntax for type uuid: "not-a-uuid"' in error  # its context could not be built
    user = await make_user()
    conversation = await user.conversation()
    await user.send(conversation, "still there?")
    await wait_until(lambda: all_complete(user, conversation, 1), 20, "a reply after the bad job")
    assert worker.proc.poll() is None
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{worker.metrics_url}/metrics")).text
    assert 'coachbase_jobs_total{kind="chat_reply",outcome="dead"}' in metrics


async def _status_is(conn: asyncpg.Connection, job_id: int, status: str) -> bool:
    return bool(await conn.fetchval("select status::text = $2 from internal.jobs where id = $1", job_id, status))


@pytest.mark.parametrize("marker", ["529", "break", "overloaded"])
async def test_transient_model_failures_are_retried(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], marker: str
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    await user.send(conversation, f"[[{marker}]] try again")
    await wait_until(lambda: all_complete(user, conversation, 1), 30, "the reply")
    [reply] = await replies(user, conversation)
    assert (reply["status"], reply["content"]) == ("complete", "Echo: try again")
    # The second try wrote the reply again: its deltas alone, by seq, are the reply.
    await asyncio.wait_for(done.wait(), 10)
    attempts = {p["attempt"] for e, p in user.broadcasts if e == "delta"}
    assert attempts <= {1, 2} and 2 in attempts
    assert streamed_text(user, attempt=2) == reply["content"]


@pytest.mark.parametrize(("marker", "note"), [("max_tokens", CUT_SHORT_NOTE), ("refusal", REFUSAL_NOTE)])
async def test_a_turn_the_model_cut_short_ends_with_a_note_not_as_if_finished(
    make_user: UserFactory, start_worker: Callable[..., WorkerProcess], marker: str, note: str
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    await user.send(conversation, f"Tell me all about sleep, from the start to the very end. [[{marker}]]")
    await wait_until(lambda: all_complete(user, conversation, 1), 20, "the complete reply row")
    [reply] = await replies(user, conversation)
    whole = "Echo: Tell me all about sleep, from the start to the very end."
    assert reply["status"] == "complete" and reply["content"].endswith(note.strip())
    cut = reply["content"][: -len(note)]
    assert whole.startswith(cut) and len(cut) < len(whole)  # the text the model gave, then the note
