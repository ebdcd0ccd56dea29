"""Run a coroutine on uvloop when it is installed (Linux, macOS), else on asyncio's own loop.

uvloop's sockets, transports and callbacks are implemented in C: a process whose time goes to many small
HTTP and WebSocket messages (the worker, the gateway) spends markedly less CPU per message on it.
`COACHBASE_EVENT_LOOP=asyncio` forces the standard loop.

Before the loop starts, what the imports allocated (~180,000 objects in the worker: modules, classes,
pydantic schemas) is frozen out of the garbage collector's sight. Otherwise every full collection walks
it all and stops the process for ~90 ms, a few times a minute under load, holding up every stream the
process serves; with it frozen a full collection takes under 10 ms.
"""

from __future__ import annotations

import asyncio
import gc
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
    gc.collect()
    gc.freeze()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
