"""The worker and the gateway run on uvloop when it is installed (COACHBASE_EVENT_LOOP=asyncio opts out),
with what their imports allocated frozen out of the garbage collector."""

from __future__ import annotations

import asyncio
import gc

import pytest
import uvloop

from shared import eventloop


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHBASE_EVENT_LOOP", raising=False)
    assert eventloop.run(_loop_type()) is uvloop.Loop


def test_the_standard_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHBASE_EVENT_LOOP", "asyncio")
    assert eventloop.run(_loop_type()) is not uvloop.Loop
    assert issubclass(eventloop.run(_loop_type()), asyncio.BaseEventLoop)


async def _frozen() -> int:
    return gc.get_freeze_count()


def test_what_was_imported_is_frozen_out_of_the_collector_before_the_loop_starts() -> None:
    gc.unfreeze()
    try:
        assert eventloop.run(_frozen()) > 10_000  # the modules and classes imported so far
    finally:
        gc.unfreeze()
