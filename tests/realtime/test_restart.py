"""The change feed recovers from a Postgres restart: same slot, changes flow again to the same socket."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from devstack.postgres import EmbeddedPostgres, free_port
from tests.conftest import PASSWORD
from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack, gateway


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("restarts an embedded Postgres of its own")
    server = EmbeddedPostgres(tmp_path_factory.mktemp("restart") / "pgdata", free_port(), PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")


@pytest.fixture
def restart_stack(own_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtStack]:
    log_path = tmp_path_factory.mktemp("restart-gateway") / "gateway.log"
    yield from gateway(own_server.dsn(), None, log_path, {})


async def test_changes_flow_again_after_a_postgres_restart(
    own_server: EmbeddedPostgres, restart_stack: RtStack
) -> None:
    async with client(restart_stack, restart_stack.service_role_key) as worker:
        inbox = Inbox()
        await subscribe(worker.channel("restart").on_postgres_changes("INSERT", inbox, table="rt_messages"))
        await restart_stack.execute("insert into public.rt_messages (body) values ('before')")
        assert (await inbox.next())["data"]["record"]["body"] == "before"

        await asyncio.to_thread(own_server.stop, "fast")
        await asyncio.to_thread(own_server.start)
        await restart_stack.execute("insert into public.rt_messages (body) values ('after')")
        assert (await inbox.next(15))["data"]["record"]["body"] == "after"
    assert "realtime feed interrupted; reconnecting" in restart_stack.gateway_log.read_text()
