"""Robustness on a gateway with tight limits: idle sockets close, slow sockets are dropped, big rows get 413.

The tight gateway (`rt_tight_stack`) closes sockets silent for 1 s, queues at most 20 frames per socket
and treats rows over 2 KB as too large. Raw websockets keep the tests in control of what is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import websockets

from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack

TIMEOUT = 10


async def _join_items(ws: websockets.ClientConnection, stack: RtStack, label: str) -> None:
    binding = {"event": "INSERT", "schema": "public", "table": "rt_items", "filter": f"label=eq.{label}"}
    config = {"broadcast": {"ack": False, "self": False}, "private": False, "postgres_changes": [binding]}
    join = {"event": "phx_join", "topic": f"realtime:{label}", "ref": "1", "join_ref": "1"}
    await ws.send(json.dumps({**join, "payload": {"config": config, "access_token": stack.service_role_key}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["payload"]["status"] == "ok"
    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["payload"]["status"] == "ok"


@contextlib.asynccontextmanager
async def _heartbeats(ws: websockets.ClientConnection) -> AsyncIterator[None]:
    async def beat() -> None:
        for ref in range(1_000_000):
            await ws.send(json.dumps({"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": f"hb{ref}"}))
            await asyncio.sleep(0.3)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await task


def _url(stack: RtStack) -> str:
    return f"{stack.ws_url}?apikey={stack.service_role_key}&vsn=1.0.0"


async def test_idle_sockets_are_closed(rt_tight_stack: RtStack) -> None:
    async with (
        websockets.connect(_url(rt_tight_stack)) as idle,
        websockets.connect(_url(rt_tight_stack)) as busy,
        _heartbeats(busy),
    ):
        await asyncio.wait_for(idle.wait_closed(), TIMEOUT)
        await asyncio.sleep(1.5)
        assert busy.state is websockets.State.OPEN


async def test_oversized_rows_get_error_413(rt_tight_stack: RtStack) -> None:
    label = f"big-{uuid.uuid4().hex[:6]}"
    async with websockets.connect(_url(rt_tight_stack)) as ws:
        await _join_items(ws, rt_tight_stack, label)
        conn = await asyncpg.connect(rt_tight_stack.postgres_dsn)
        try:
            await conn.execute(
                "insert into public.rt_items (n, label, meta) values (1, $1, $2)", label, json.dumps({"x": "y" * 5000})
            )
        finally:
            await conn.close()
        data = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["payload"]["data"]
        assert data["errors"] == ["Error 413: Payload Too Large"]
        assert data["record"]["n"] == 1 and data["record"]["label"] == label
        assert "meta" not in data["record"]


async def test_a_burst_bigger_than_the_queue_reaches_a_socket_that_keeps_up(rt_tight_stack: RtStack) -> None:
    label = f"burst-{uuid.uuid4().hex[:6]}"
    async with websockets.connect(_url(rt_tight_stack), max_size=None) as fast, _heartbeats(fast):
        await _join_items(fast, rt_tight_stack, label)
        await rt_tight_stack.execute(
            "insert into public.rt_items (n, label) select g, $1 from generate_series(1, 1000) g", label
        )
        received: list[Any] = []
        while len(received) < 1000:
            frame = json.loads(await asyncio.wait_for(fast.recv(), TIMEOUT))
            if frame["event"] == "postgres_changes":
                received.append(frame["payload"]["data"]["record"]["n"])
        assert received == list(range(1, 1001))  # 1,000 frames through a 20-frame queue
    assert "send queue full" not in rt_tight_stack.gateway_log.read_text()


async def test_the_slot_survives_client_churn(rt_stack: RtStack) -> None:
    async def slot() -> Any:
        conn = await asyncpg.connect(rt_stack.dsn)
        try:
            return await conn.fetchrow("select slot_name from pg_replication_slots where database = current_database()")
        finally:
            await conn.close()

    before = await slot()
    for _ in range(5):
        async with client(rt_stack, rt_stack.anon_key) as churn:
            await subscribe(churn.channel("churn").on_postgres_changes("*", Inbox(), table="rt_messages"))
    after = await slot()
    assert after is not None and before["slot_name"] == after["slot_name"]  # the same slot, never recreated
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        inbox = Inbox()
        await subscribe(supabase.channel("after-churn").on_postgres_changes("INSERT", inbox, table="rt_messages"))
        await rt_stack.execute("insert into public.rt_messages (body) values ('still here')")
        assert (await inbox.next())["data"]["record"]["body"] == "still here"


async def test_a_backlog_over_its_bound_drops_the_rest_of_a_transaction(rt_tight_stack: RtStack) -> None:
    """No time budget: after its first 256 rows a transaction goes to the background, whose 1,000-row
    bound the 1,744 left exceed: they are dropped (at most once), and later changes flow as before."""
    label = f"flood-{uuid.uuid4().hex[:6]}"
    async with websockets.connect(_url(rt_tight_stack), max_size=None) as ws, _heartbeats(ws):
        await _join_items(ws, rt_tight_stack, label)
        await rt_tight_stack.execute(
            "insert into public.rt_items (n, label) select g, $1 from generate_series(1, 2000) g", label
        )
        await rt_tight_stack.execute("insert into public.rt_items (n, label) values (0, $1)", label)
        received: list[Any] = []
        while not received or received[-1] != 0:
            frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if frame["event"] == "postgres_changes":
                received.append(frame["payload"]["data"]["record"]["n"])
    assert received == [*range(1, 257), 0]
    assert "realtime backlog full" in rt_tight_stack.gateway_log.read_text()
