"""supabase-py helpers for the Realtime tests: clients, subscriptions and event inboxes with timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from realtime import AsyncRealtimeChannel, RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from tests.realtime.conftest import RtStack

TIMEOUT = 10.0


@dataclass
class Inbox:
    """Collects callback arguments; `next()` waits for one, `drain()` takes what has arrived."""

    items: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)

    def __call__(self, *args: Any) -> None:
        self.items.put_nowait(args[0] if len(args) == 1 else args)

    async def next(self, within: float = TIMEOUT) -> Any:
        return await asyncio.wait_for(self.items.get(), within)

    async def take(self, count: int, within: float = TIMEOUT) -> list[Any]:
        return [await self.next(within) for _ in range(count)]

    def drain(self) -> list[Any]:
        out = []
        while not self.items.empty():
            out.append(self.items.get_nowait())
        return out


@asynccontextmanager
async def client(stack: RtStack, key: str, token: str | None = None) -> AsyncIterator[AsyncClient]:
    supabase = await acreate_client(stack.api_url, key)
    if token is not None:
        await supabase.realtime.set_auth(token)
    try:
        yield supabase
    finally:
        await supabase.remove_all_channels()
        await supabase.realtime.close()


async def subscribe(channel: AsyncRealtimeChannel, *, expect_postgres: bool = True) -> Inbox:
    """Subscribe and wait for SUBSCRIBED (and "Subscribed to PostgreSQL" when it has bindings)."""
    states, system = Inbox(), Inbox()
    channel.on_system(system)
    await channel.subscribe(states)
    state, error = await states.next()
    assert state == RealtimeSubscribeStates.SUBSCRIBED, (state, error)
    if expect_postgres:
        message = await system.next()
        assert message.message == "Subscribed to PostgreSQL", message
    return states
