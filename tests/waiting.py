"""Polling for a condition in tests, with a deadline and a message that says what never happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], seconds: float, what: str, *, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def poll(predicate: Callable[[], bool], what: str, seconds: float = 10.0, *, interval: float = 0.05) -> None:
    """The blocking `wait_until`, for tests that use synchronous clients."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")
