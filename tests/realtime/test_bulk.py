"""One user's bulk write does not hold up other users' change events, and every channel keeps commit order.

The feed spends at most `realtime_transaction_budget_s` on a transaction and finishes the rest in the
background (devstack/realtime/lanes.py); the channels that want none of the rest, or may see none of it,
are not held behind it. Raw vsn 1.0.0 websockets; the readers take turns frame by frame, so the order in
which the test sees events across sockets follows the order in which they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import websockets

from tests.realtime.conftest import RtStack
from tests.waiting import wait_until

TIMEOUT = 30
BULK = 10_000


class Reader:
    """A socket joined to rt_notes changes; `seen` is shared: (who, body) in the order they were read."""

    def __init__(self, ws: websockets.ClientConnection, who: str, seen: list[tuple[str, str]]) -> None:
        self.ws, self.who, self.seen = ws, who, seen
        self.bodies: list[str] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["event"] == "postgres_changes":
                    body = frame["payload"]["data"]["record"]["body"]
                    self.bodies.append(body)
                    self.seen.append((self.who, body))
                await asyncio.sleep(0)  # let the other readers take their turn

    async def until(self, count: int) -> None:
        async def arrived() -> bool:
            return len(self.bodies) >= count

        await wait_until(arrived, TIMEOUT, f"{count} events for the {self.who} subscriber", interval=0.01)


@contextlib.asynccontextmanager
async def _reader(
    stack: RtStack, who: str, user: str, seen: list[tuple[str, str]], filter_: str | None = None
) -> AsyncIterator[Reader]:
    url = f"{stack.ws_url}?apikey={stack.anon_key}&vsn=1.0.0"
    binding = {"event": "INSERT", "schema": "public", "table": "rt_notes", **({"filter": filter_} if filter_ else {})}
    config: dict[str, Any] = {"broadcast": {"self": False}, "private": False, "postgres_changes": [binding]}
    async with websockets.connect(url, max_size=None) as ws:
        join = {"event": "phx_join", "topic": f"realtime:bulk-{who}", "ref": "1", "join_ref": "1"}
        await ws.send(json.dumps({**join, "payload": {"config": config, "access_token": stack.user_token(user)}}))
        for _ in range(2):  # the join reply, then "Subscribed to PostgreSQL"
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["payload"]["status"] == "ok"
        reader = Reader(ws, who, seen)
        try:
            yield reader
        finally:
            reader.task.cancel()


async def test_a_bulk_write_does_not_hold_up_other_users(rt_stack: RtStack) -> None:
    writer, filtered, unfiltered = (str(uuid.uuid4()) for _ in range(3))
    seen: list[tuple[str, str]] = []
    async with (
        _reader(rt_stack, "writer", writer, seen) as own,
        _reader(rt_stack, "filtered", filtered, seen, f"owner_id=eq.{filtered}") as mine,
        _reader(rt_stack, "unfiltered", unfiltered, seen) as everyone,
    ):
        await rt_stack.execute(
            "insert into public.rt_notes (owner_id, body) select $1, 'bulk-' || g from generate_series(1, $2) g",
            uuid.UUID(writer),
            BULK,
        )
        await rt_stack.execute(
            "insert into public.rt_notes (owner_id, body) values ($1, 'after'), ($2, 'for filtered'),"
            " ($3, 'for unfiltered')",
            uuid.UUID(writer),
            uuid.UUID(filtered),
            uuid.UUID(unfiltered),
        )
        await own.until(BULK + 1)
        await mine.until(1)
        await everyone.until(1)
    # The writer gets all of its rows in commit order, its later row after them.
    assert own.bodies == [f"bulk-{n}" for n in range(1, BULK + 1)] + ["after"]
    # The others get only their own row (RLS, filter), and before the writer has the end of its bulk write.
    assert mine.bodies == ["for filtered"] and everyone.bodies == ["for unfiltered"]
    last_bulk = seen.index(("writer", f"bulk-{BULK}"))
    assert seen.index(("filtered", "for filtered")) < last_bulk
    assert seen.index(("unfiltered", "for unfiltered")) < last_bulk
    assert "finishing a large transaction in the background" in rt_stack.gateway_log.read_text()
