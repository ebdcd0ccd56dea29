"""The gateway: the CLI's opaque key aliases, CORS for browsers, and DATABASE_URL / reset handling."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack.settings import DEMO_PUBLISHABLE_KEY, DEMO_SECRET_KEY, DevstackSettings
from devstack.stack import LocalStack
from tests.conftest import Stack, _admin, _with_database


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"apikey": DEMO_SECRET_KEY}, 200),
        ({"apikey": DEMO_SECRET_KEY, "Authorization": f"Bearer {DEMO_SECRET_KEY}"}, 200),
        ({"apikey": DEMO_PUBLISHABLE_KEY}, 403),
    ],
)
def test_opaque_key_aliases_act_as_their_jwt(stack: Stack, headers: dict[str, str], status: int) -> None:
    response = httpx.get(f"{stack.api_url}/auth/v1/admin/users", headers=headers)
    assert response.status_code == status, response.text


def test_cors_preflight_allows_browser_clients(stack: Stack) -> None:
    response = httpx.options(
        f"{stack.api_url}/auth/v1/token?grant_type=password",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "apikey, authorization, content-type, x-client-info",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    assert "POST" in response.headers["access-control-allow-methods"]


def test_database_url_is_used_instead_of_the_embedded_server(pg_server: str) -> None:
    """With DATABASE_URL, the stack prepares that database (bootstrap, migrations, seed) and nothing else."""
    name = f"coachbase_external_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server, f'create database "{name}"'))
    try:
        stack = LocalStack(DevstackSettings(DATABASE_URL=_with_database(pg_server, name)))  # type: ignore[call-arg]
        assert stack.postgres is None
        asyncio.run(stack.prepare())
        asyncio.run(stack.prepare())  # a second run applies nothing new and does not fail

        async def applied() -> int:
            conn = await asyncpg.connect(stack.superuser_dsn)
            try:
                return int(await conn.fetchval("select count(*) from supabase_migrations.schema_migrations"))
            finally:
                await conn.close()

        assert asyncio.run(applied()) == len(list(Path("supabase/migrations").glob("*.sql")))
    finally:
        asyncio.run(_admin(pg_server, f'drop database if exists "{name}" with (force)'))


def test_a_database_url_as_postgres_is_refused_with_a_reason(pg_server: str, database: str) -> None:
    from devstack import migrate
    from devstack.db import role_dsn
    from tests.conftest import PASSWORD

    with pytest.raises(RuntimeError, match="superuser other than `postgres`"):
        asyncio.run(migrate.bootstrap(role_dsn(pg_server, "postgres", PASSWORD), PASSWORD))


def test_db_reset_rebuilds_the_local_database(tmp_path: Path) -> None:
    from devstack.postgres import free_port

    settings = DevstackSettings(data_dir=tmp_path, db_port=free_port(), DATABASE_URL=None)  # type: ignore[call-arg]
    stack = LocalStack(settings)

    async def scalar(sql: str) -> object:
        conn = await asyncpg.connect(stack.superuser_dsn)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    stack.start_database()
    try:
        asyncio.run(stack.prepare())
        asyncio.run(scalar("create table public.leftover (id int)"))
        stack.stop_database()
        stack.start_database()  # data survive a restart (make dev keeps them)
        assert asyncio.run(scalar("select to_regclass('public.leftover') is not null"))
        stack.destroy_database()  # make db-reset
        stack.start_database()
        asyncio.run(stack.prepare())
        assert asyncio.run(scalar("select to_regclass('public.leftover') is null"))
        assert asyncio.run(scalar("select count(*) from supabase_migrations.schema_migrations"))
    finally:
        stack.stop_database()
