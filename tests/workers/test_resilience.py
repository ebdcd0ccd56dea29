"""What must hold when things around the worker fail, and what a user may never do to the pipeline."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError
from realtime import RealtimeSubscribeStates

from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import UserFactory, WorkerProcess


def start_gateway(database: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database, "DEVSTACK_API_PORT": str(port), "DEVSTACK_MAIL_PORT": "0"}
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "gateway"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"gateway did not start:\n{log.read_text()}")


async def test_messages_sent_while_realtime_is_down_are_answered_after_reconnect(
    stack: Stack, make_user: UserFactory, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    """The worker's own gateway dies (REST and Realtime both); users keep writing through another one."""
    port = free_port()
    log = tmp_path / "own-gateway.log"
    own = start_gateway(stack.dsn, port, log)
    try:
        start_worker("lonely", SUPABASE_URL=f"http://127.0.0.1:{port}", COACHBASE_SWEEP_SECONDS="30")
        user = await make_user()
        conversation = await user.conversation()
        own.kill()
        own.wait(10)
        for i in range(3):
            await user.send(conversation, f"are you there {i}?")
        await asyncio.sleep(1)
        own = start_gateway(stack.dsn, port, log)

        async def answered() -> bool:
            rows = [m for m in await user.messages(conversation) if m["role"] == "assistant"]
            return len(rows) == 3 and all(r["status"] == "complete" for r in rows)

        # The sweep interval is 30 s: only the wake-up after the rebuilt subscription makes this fast.
        await wait_until(answered, 25, "the replies after Realtime came back")
    finally:
        own.kill()
        own.wait(10)


async def test_a_user_cannot_listen_to_someone_elses_conversation(make_user: UserFactory) -> None:
    owner, intruder = await make_user(), await make_user()
    conversation = await owner.conversation()
    states: list[RealtimeSubscribeStates] = []
    done = asyncio.Event()

    def on_state(status: RealtimeSubscribeStates, error: Exception | None) -> None:
        states.append(status)
        done.set()

    await intruder.client.realtime.set_auth(intruder.access_token)
    channel = intruder.client.channel(f"conversation:{conversation}", {"config": {"private": True}})
    await channel.subscribe(on_state)
    await asyncio.wait_for(done.wait(), 10)
    assert states[0] == RealtimeSubscribeStates.CHANNEL_ERROR


async def test_a_user_cannot_call_worker_functions_or_write_replies(make_user: UserFactory) -> None:
    user = await make_user()
    conversation = await user.conversation()
    sent = await user.send(conversation, "hello")
    with pytest.raises(APIError) as claim:
        await user.client.rpc("claim_jobs_v4", {"p_worker": "me", "p_kinds": ["chat_reply"]}).execute()
    assert claim.value.code == "42501"
    with pytest.raises(APIError) as finish:  # finishing a reply is a claim's item: the same refusal
        await user.client.rpc(
            "claim_jobs_v4",
            {"p_worker": "me", "p_kinds": [], "p_limit": 0, "p_finish": [{"id": 1, "output": {"content": "fake"}}]},
        ).execute()
    assert finish.value.code == "42501"
    with pytest.raises(APIError) as step:
        await user.client.rpc(
            "run_reply_step_v1",
            {"p_job_id": 1, "p_worker": "me", "p_step": {"step": 1, "calls": [{"tool_use_id": "t", "name": "x"}]}},
        ).execute()
    assert step.value.code == "42501"
    with pytest.raises(APIError) as insert:
        await (
            user.client.table("messages")
            .insert({"conversation_id": conversation, "role": "assistant", "content": "I am the coach now"})
            .execute()
        )
    assert insert.value.code == "42501"
    with pytest.raises(APIError):
        await user.client.table("messages").update({"content": "edited"}).eq("id", sent["id"]).execute()


async def test_sigterm_finishes_or_releases_in_flight_work(
    stack: Stack, make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker("graceful")
    user = await make_user()
    conversation = await user.conversation()
    await user.send(conversation, "[[slow]] a long answer please")

    async def streaming() -> bool:
        rows = [m for m in await user.messages(conversation) if m["role"] == "assistant"]
        return bool(rows) and rows[0]["status"] == "streaming"

    await wait_until(streaming, 20, "streaming")
    assert worker.stop() == 0
    assert "worker stopped" in worker.output()
    conn = await asyncpg.connect(stack.dsn)
    try:
        job = await conn.fetchrow(
            "select status, locked_by from internal.jobs where payload ->> 'conversation_id' = $1", conversation
        )
    finally:
        await conn.close()
    # Either it finished within the grace period, or it was handed back for the next worker at once.
    assert (job["status"], job["locked_by"]) in (("succeeded", "graceful"), ("queued", None))
    start_worker("next")
    await wait_until(lambda: _complete(user, conversation), 40, "the reply after a graceful shutdown")


async def _complete(user: object, conversation: str) -> bool:
    rows = [m for m in await user.messages(conversation) if m["role"] == "assistant"]  # type: ignore[attr-defined]
    return len(rows) == 1 and rows[0]["status"] == "complete"


async def test_an_operator_can_retry_a_dead_reply(
    stack: Stack, make_user: UserFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    await user.send(conversation, "[[400]] refused at first")

    async def failed() -> bool:
        rows = [m for m in await user.messages(conversation) if m["role"] == "assistant"]
        return bool(rows) and rows[0]["status"] == "failed"

    await wait_until(failed, 20, "the failed reply")
    conn = await asyncpg.connect(stack.dsn)
    try:
        job_id = await conn.fetchval(
            "select id from internal.job_problems where payload ->> 'conversation_id' = $1", conversation
        )
        # The operator fixes the cause (here: the message no longer triggers the scripted error)...
        await conn.execute(
            "update public.messages set content = 'accepted now' where conversation_id = $1 and role = 'user'",
            uuid.UUID(conversation),
        )
        await conn.fetchrow("select * from internal.retry_job($1)", job_id)
        await wait_until(lambda: _complete(user, conversation), 30, "the retried reply")
        payload = json.loads(await conn.fetchval("select payload from internal.jobs where id = $1", job_id))
    finally:
        await conn.close()
    [reply] = [m for m in await user.messages(conversation) if m["role"] == "assistant"]
    assert reply["content"] == "Echo: accepted now" and reply["error"] is None
    assert payload["conversation_id"] == conversation
