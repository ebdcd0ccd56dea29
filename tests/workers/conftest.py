"""Fixtures for the reply pipeline: the fake model over HTTP, worker processes, signed-in users."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from tests.conftest import Stack


def _wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.fake_llm",
            "--port",
            str(port),
            "--slow-chunk-seconds",
            "0.5",
            "--recordings",
            str(REPO_ROOT / "tests" / "llm" / "recordings"),
        ],
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/_stats")
        yield url
    finally:
        proc.terminate()  # a request it holds ([[hold:N]], [[timeout]]) would delay a graceful stop
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_url: str

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(stack: Stack, fake_llm: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(name: str | None = None, **env: str) -> WorkerProcess:
        name = name or f"w{len(workers)}"
        metrics_port = free_port()
        log = tmp_path / f"worker-{name}.log"
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "COACHBASE_"))},
            "SUPABASE_URL": stack.api_url,
            "SUPABASE_SERVICE_ROLE_KEY": stack.service_role_key,
            "ANTHROPIC_API_KEY": "sk-ant-fake",
            "ANTHROPIC_BASE_URL": fake_llm,
            "COACHBASE_WORKER_ID": name,
            "COACHBASE_LEASE_SECONDS": "5",
            "COACHBASE_SWEEP_SECONDS": "0.5",
            "COACHBASE_DELTA_INTERVAL_MS": "50",
            "COACHBASE_METRICS_PORT": str(metrics_port),
            "COACHBASE_LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "workers"], cwd=REPO_ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        worker = WorkerProcess(proc, log, f"http://127.0.0.1:{metrics_port}")
        workers.append(worker)
        _wait_http(f"{worker.metrics_url}/healthz")
        return worker

    yield start
    for worker in workers:
        worker.stop()
        # Shown by pytest only when the test failed.
        print(f"----- {worker.log.name} -----\n{worker.output()[-6000:]}")


@dataclass
class User:
    client: AsyncClient
    user_id: str
    access_token: str
    coach_id: str
    broadcasts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def conversation(self) -> str:
        response = await self.client.table("conversations").insert({"coach_id": self.coach_id}).execute()
        return str(response.data[0]["id"])

    async def send(self, conversation_id: str, text: str) -> dict[str, Any]:
        response = (
            await self.client.table("messages").insert({"conversation_id": conversation_id, "content": text}).execute()
        )
        return dict(response.data[0])

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        response = (
            await self.client.table("messages")
            .select("*")
            .eq("conversation_id", conversation_id)
            .order("created_at")
            .execute()
        )
        return list(response.data)


UserFactory = Callable[[], Awaitable[User]]


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the stack's database (what operators see in Studio)."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def coach_id(stack: Stack) -> str:
    """The seeded coach Maya: tests leave the catalogue as seeded (other tests check it)."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        return str(await conn.fetchval("select id from public.coaches where slug = 'maya'"))
    finally:
        await conn.close()


@pytest.fixture
async def make_user(stack: Stack, coach_id: str) -> AsyncIterator[UserFactory]:
    pools: list[httpx.AsyncClient] = []
    clients: list[AsyncClient] = []

    async def make() -> User:
        pool = httpx.AsyncClient(timeout=20)
        pools.append(pool)
        options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool)
        client = await acreate_client(stack.api_url, stack.anon_key, options=options)
        clients.append(client)
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = await client.auth.sign_up(
            {"email": email, "password": "a-long-password", "options": {"data": {"display_name": "Ana"}}}
        )
        assert response.session is not None and response.user is not None
        return User(client, response.user.id, response.session.access_token, coach_id)

    yield make
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.realtime.close(), 5)
    for pool in pools:
        await pool.aclose()


async def replies(user: User, conversation_id: str) -> list[dict[str, Any]]:
    return [m for m in await user.messages(conversation_id) if m["role"] == "assistant"]


async def all_complete(user: User, conversation_id: str, count: int) -> bool:
    rows = await replies(user, conversation_id)
    return len(rows) == count and all(r["status"] in ("complete", "failed") for r in rows)


def streamed_text(user: User, attempt: int | None = None, after: int = 0) -> str:
    """The reply's text as an app rebuilds it from the `delta` broadcasts collected by `subscribe` (only
    those of `attempt`, when given, and numbered above `after`, as a client catching up from the row
    applies them): each number once, from `after` + 1, applied in order."""
    deltas = sorted(
        (p["seq"], p["text"])
        for event, p in user.broadcasts
        if event == "delta" and (attempt is None or p["attempt"] == attempt) and p["seq"] > after
    )
    assert [seq for seq, _ in deltas] == list(range(after + 1, after + len(deltas) + 1)), deltas
    return "".join(text for _, text in deltas)


async def subscribe(user: User, conversation_id: str) -> asyncio.Event:
    """Join the private topic conversation:<id>; collect broadcasts into user.broadcasts."""
    done = asyncio.Event()
    joined = asyncio.Event()
    channel = user.client.channel(f"conversation:{conversation_id}", {"config": {"private": True}})

    def on(event: str) -> Callable[[dict[str, Any]], None]:
        def callback(payload: dict[str, Any]) -> None:
            user.broadcasts.append((event, payload.get("payload", payload)))
            if event == "done":
                done.set()

        return callback

    for event in ("delta", "done", "error", "tool_call", "tool_result"):
        channel.on_broadcast(event, on(event))

    def state(status: RealtimeSubscribeStates, error: Exception | None) -> None:
        if status == RealtimeSubscribeStates.SUBSCRIBED:
            joined.set()

    await user.client.realtime.set_auth(user.access_token)
    await channel.subscribe(state)
    await asyncio.wait_for(joined.wait(), 10)
    return done
