"""A write through the gateway's REST endpoint wakes the change feed at once: subscribers do not wait for
the next poll of the replication slot. Shown with a poll interval far longer than the wait allowed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack, gateway

SLOW_POLL_MS = 4000


@pytest.fixture(scope="module")
def slow_poll_stack(
    pg_server: str, platform_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RtStack]:
    log_path: Path = tmp_path_factory.mktemp("rt-slow-poll") / "gateway.log"
    env = {"DEVSTACK_REALTIME_POLL_MS": str(SLOW_POLL_MS), "DEVSTACK_REALTIME_IDLE_POLL_MS": str(SLOW_POLL_MS)}
    yield from gateway(pg_server, platform_template, log_path, env)


async def test_a_rest_write_is_delivered_without_waiting_for_the_poll(slow_poll_stack: RtStack) -> None:
    stack = slow_poll_stack
    async with client(stack, stack.service_role_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel("nudged").on_postgres_changes("INSERT", inbox, table="rt_messages")
        await subscribe(channel)
        # Let the feed settle into its (long) wait.
        await inbox_quiet(inbox, 0.5)

        headers = {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"}
        async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as http:
            started = time.monotonic()
            response = await http.post("/rest/v1/rt_messages", json={"body": "through REST"})
            assert response.status_code == 201, response.text
            payload = await inbox.next(within=SLOW_POLL_MS / 1000 / 2)
            assert payload["data"]["record"]["body"] == "through REST"
            assert time.monotonic() - started < SLOW_POLL_MS / 1000 / 2

        # A write that bypasses the gateway is only found by the poll: the nudge is what made the difference.
        await inbox_quiet(inbox, 0.2)
        conn = await asyncpg.connect(stack.postgres_dsn)
        try:
            await conn.execute("insert into public.rt_messages (body) values ('direct')")
        finally:
            await conn.close()
        await inbox_quiet(inbox, 1.0)
        payload = await inbox.next(within=SLOW_POLL_MS / 1000 + 5)
        assert payload["data"]["record"]["body"] == "direct"


async def inbox_quiet(inbox: Inbox, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await inbox.next(within=seconds)
