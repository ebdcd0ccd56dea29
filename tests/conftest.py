"""Session fixtures: a real Postgres with the platform bootstrap and migrations, and the running gateway.

The embedded Postgres runs in a temporary directory on free ports; with DATABASE_URL set (a superuser
other than `postgres`), a fresh database is created on that server instead and dropped afterwards.
The gateway runs as a real subprocess (`python -m devstack gateway`), so every test goes over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.settings import REPO_ROOT, DevstackSettings

SETTINGS = DevstackSettings(_env_file=None)  # type: ignore[call-arg]
PASSWORD = SETTINGS.db_password.get_secret_value()


@dataclass(frozen=True)
class Stack:
    api_url: str
    anon_key: str
    service_role_key: str
    jwt_secret: str
    dsn: str  # superuser (supabase_admin) DSN of the test database
    gateway_log: Path
    mail_url: str  # the mail catcher's Mailpit API

    def role_dsn(self, role: str) -> str:
        return role_dsn(self.dsn, role, PASSWORD)

    @property
    def postgres_dsn(self) -> str:
        return self.role_dsn("postgres")


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_database(dsn: str, name: str) -> None:
    """Drop a test database, first dropping replication slots a killed gateway may have left on it."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active",
            name,
        )
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser DSN (database `postgres`) of a server the tests may create databases on."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "pgdata", free_port(), PASSWORD)
    server.start()
    try:
        yield server.dsn()
    finally:
        server.stop("immediate")


@pytest.fixture(scope="session")
def database(pg_server: str) -> Iterator[str]:
    """A new database with bootstrap, migrations and seed applied (`supabase db reset`)."""
    name = f"coachbase_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server, f'create database "{name}"'))
    dsn = _with_database(pg_server, name)
    try:
        asyncio.run(migrate.reset(dsn, PASSWORD, REPO_ROOT / "supabase"))
        yield dsn
    finally:
        asyncio.run(_drop_database(pg_server, name))


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gateway did not become healthy:\n{log_path.read_text()}")


@contextlib.contextmanager
def gateway_process(database: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `python -m devstack gateway` against `database` on a free port; yield its URL.

    The mail catcher listens on another free port (`DEVSTACK_MAIL_PORT` in `extra_env` names it). Auth's
    rate limits are off: the suite signs in hundreds of times from one address (tests/test_auth_limits.py
    runs a gateway with them on).
    """
    port = free_port()
    env = {
        "DEVSTACK_MAIL_PORT": str(free_port()),
        "DEVSTACK_AUTH_RATE_LIMITS": "false",
        **os.environ,
        "DATABASE_URL": database,
        "DEVSTACK_API_PORT": str(port),
        "DEVSTACK_HOST": "127.0.0.1",
        "DEVSTACK_DATA_DIR": str(log_path.parent / "data"),  # Storage's bytes
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "gateway", "--log-level", "INFO"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
    mail_port = free_port()
    with gateway_process(database, log_path, {"DEVSTACK_MAIL_PORT": str(mail_port)}) as url:
        yield Stack(
            api_url=url,
            anon_key=SETTINGS.anon_key,
            service_role_key=SETTINGS.service_role_key,
            jwt_secret=SETTINGS.jwt_secret.get_secret_value(),
            dsn=database,
            gateway_log=log_path,
            mail_url=f"http://127.0.0.1:{mail_port}",
        )


@pytest.fixture(scope="session")
def platform_template(pg_server: str) -> Iterator[str]:
    """A database holding only the platform bootstrap, used as a template for `fresh_db`."""
    name = f"coachbase_platform_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server, f'create database "{name}"'))
    try:
        asyncio.run(migrate.bootstrap(_with_database(pg_server, name), PASSWORD))
        yield name
    finally:
        asyncio.run(_drop_database(pg_server, name))


@pytest.fixture
def fresh_db(pg_server: str, platform_template: str) -> Iterator[str]:
    """A new, bootstrapped database without the project's migrations (superuser DSN)."""
    name = f"coachbase_fresh_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server, f'create database "{name}" template "{platform_template}" owner postgres'))
    try:
        yield _with_database(pg_server, name)
    finally:
        asyncio.run(_drop_database(pg_server, name))
