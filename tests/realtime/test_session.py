"""A socket that cannot keep up is dropped without blocking anyone: Session with a stalled fake websocket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from devstack.realtime.hub import Hub
from devstack.realtime.protocol import Frame
from devstack.realtime.session import Services, Session
from devstack.settings import DevstackSettings


class StalledWebSocket:
    """Accepts, then never finishes a send and never receives: a client that stopped reading."""

    def __init__(self) -> None:
        self.closed_with: int | None = None
        self.sent = 0

    async def accept(self) -> None:
        return None

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send_text(self, _: str) -> None:
        self.sent += 1
        await asyncio.Event().wait()

    async def send_bytes(self, _: bytes) -> None:
        await self.send_text("")

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code


async def _no_pool() -> Any:
    raise AssertionError("no database needed")


async def test_a_socket_whose_queue_overflows_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    settings = DevstackSettings(_env_file=None, realtime_socket_queue_size=5)  # type: ignore[call-arg]
    ws = StalledWebSocket()
    session = Session(ws, "1.0.0", "token", Services(settings, Hub(), _no_pool))  # type: ignore[arg-type]
    run = asyncio.create_task(session.run())
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, "devstack.realtime"):
        for i in range(10):  # the feed pushes without awaiting: it is never held up by this socket
            session.push(Frame("realtime:t", "postgres_changes", {"n": i}))
        await asyncio.wait_for(run, 2)
    assert ws.sent == 1  # one send in flight, five queued, then the overflow
    assert ws.closed_with == 1011
    assert "send queue full" in caplog.text
