"""A database built from the migrations alone (what `supabase db push` gives a hosted project: seed.sql never
runs) is a working product: a new user picks a shipped coach, sends a message and gets a reply."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from supabase import AsyncClientOptions, acreate_client

from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from tests.conftest import PASSWORD, SETTINGS, _admin, _drop_database, _with_database, gateway_process
from tests.waiting import wait_until


async def _migrations_only(server_dsn: str, name: str) -> str:
    await _admin(server_dsn, f'create database "{name}"')
    dsn = _with_database(server_dsn, name)
    await migrate.bootstrap(dsn, PASSWORD)
    await migrate.apply_migrations(role_dsn(dsn, "postgres", PASSWORD), REPO_ROOT / "supabase" / "migrations")
    return dsn


@pytest.fixture
def pushed(pg_server: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(API URL, DSN) of a gateway over a database with the migrations and nothing else."""
    name = f"coachbase_pushed_{uuid.uuid4().hex[:8]}"
    dsn = asyncio.run(_migrations_only(pg_server, name))
    try:
        with gateway_process(dsn, tmp_path / "gateway.log") as url:
            yield url, dsn
    finally:
        asyncio.run(_drop_database(pg_server, name))


@pytest.fixture
def worker(pushed: tuple[str, str], fake_llm: str, tmp_path: Path) -> Iterator[None]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "COACHBASE_"))},
        "SUPABASE_URL": pushed[0],
        "SUPABASE_SERVICE_ROLE_KEY": SETTINGS.service_role_key,
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "ANTHROPIC_BASE_URL": fake_llm,
        "COACHBASE_SWEEP_SECONDS": "0.5",
        "COACHBASE_METRICS_PORT": str(free_port()),
    }
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "workers"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.usefixtures("worker")
async def test_a_database_from_the_migrations_alone_answers_a_message(pushed: tuple[str, str]) -> None:
    url, dsn = pushed
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select count(*) from auth.users") == 0  # no seed: no demo account either
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=20) as http:
        client = await acreate_client(url, SETTINGS.anon_key, options=AsyncClientOptions(httpx_client=http))
        await client.auth.sign_up({"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "a-long-password"})
        coach = (await client.table("coaches").select("id").eq("slug", "maya").single().execute()).data
        conversation = (await client.table("conversations").insert({"coach_id": coach["id"]}).execute()).data[0]
        await client.table("messages").insert({"conversation_id": conversation["id"], "content": "Hello?"}).execute()

        async def reply() -> list[dict[str, str]]:
            query = client.table("messages").select("status, content, prompt_version")
            return list((await query.eq("conversation_id", conversation["id"]).eq("role", "assistant").execute()).data)

        async def answered() -> bool:
            rows = await reply()
            return bool(rows) and rows[0]["status"] == "complete"

        await wait_until(answered, 30, "the reply")
        [row] = await reply()
    assert (row["content"], row["prompt_version"]) == ("Echo: Hello?", "chat_reply@v1")

    # The shipped guidelines are searchable: their embedding jobs were queued by the migrations.
    async def guidelines_embedded() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            missing = await conn.fetchval(
                "select count(*) from internal.category_guidelines g where not exists (select 1 from "
                "public.knowledge_chunks c where c.source = 'category_guidelines' and c.source_id = g.category_id)"
            )
        finally:
            await conn.close()
        return bool(missing == 0)

    await wait_until(guidelines_embedded, 30, "the shipped guidelines' chunks")
    async with httpx.AsyncClient(timeout=20) as http:
        client = await acreate_client(url, SETTINGS.anon_key, options=AsyncClientOptions(httpx_client=http))
        await client.auth.sign_up({"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "a-long-password"})
        found = (await client.rpc("search_knowledge", {"p_query": "sleep"}).execute()).data
    assert found and all(r["shared"] for r in found)
