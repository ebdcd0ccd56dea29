"""Run a coroutine on uvloop when it is installed (Linux, macOS), else on asyncio's own loop.

uvloop's sockets, transports and callbacks are implemented in C: a process whose time goes to many small
HTTP and WebSocket messages (the worker, the gateway) spends markedly less CPU per message on it.
`COACHBASE_EVENT_LOOP=asyncio` forces the standard loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("COACHBASE_EVENT_LOOP", "auto") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
