"""The embedded Postgres: starts with logical decoding, survives crashes and stale PID files."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devstack.postgres import EmbeddedPostgres, PostgresError, free_port
from tests.conftest import PASSWORD


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_path / "pgdata", free_port(), PASSWORD)
    try:
        yield pg
    finally:
        pg.stop("immediate")


async def _setting(pg: EmbeddedPostgres, name: str) -> str:
    conn = await asyncpg.connect(pg.dsn())
    try:
        return str(await conn.fetchval(f"show {name}"))
    finally:
        await conn.close()


def test_starts_with_logical_wal_on_loopback(server: EmbeddedPostgres) -> None:
    server.start()
    assert server.is_running()
    assert asyncio.run(_setting(server, "wal_level")) == "logical"
    assert asyncio.run(_setting(server, "listen_addresses")) == "127.0.0.1"
    server.stop()
    assert not server.is_running()
    assert not (server.pgdata / "postmaster.pid").exists()


def test_restarts_after_a_crash(server: EmbeddedPostgres) -> None:
    server.start()
    pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (server.pgdata / "postmaster.pid").exists()  # the crash left its PID file behind

    server.start()
    assert asyncio.run(_setting(server, "wal_level")) == "logical"


def test_stale_pid_file_with_a_foreign_pid_is_ignored(server: EmbeddedPostgres) -> None:
    server.start()
    server.stop()
    # A PID file pointing at a live process that is not postgres (this test runner) — as after a
    # crash, when the PID was reused.
    (server.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{server.pgdata}\n")
    server.start()
    assert server.is_running()


def test_a_taken_port_is_reported_clearly(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        pg = EmbeddedPostgres(tmp_path / "pgdata", port, PASSWORD)
        with pytest.raises(PostgresError, match=f"port {port}"):
            pg.start()
