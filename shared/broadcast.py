"""Realtime Broadcast from a server: messages through the REST endpoint, coalesced, best effort.

One request is in flight at a time; messages sent while it is (the deltas of every conversation this
worker is streaming) go together in the next one, up to `MAX_BATCH` (shared/coalesce.py, as for the
worker's checkpoints). A worker streaming 100 replies at once sends a few requests per tick instead of
one per delta: the same group-commit idea as the job queue's acknowledgements. An idle broadcaster
sends a message at once.

The database row stays the truth; a broadcast that fails is logged and the reply carries on.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.coalesce import Coalescer
from shared.errors import TransientError
from shared.http import ServiceCalls

log = logging.getLogger("shared.broadcast")

MAX_BATCH = 100


class Broadcaster:
    def __init__(self, supabase_url: str, key: str) -> None:
        self._realtime = ServiceCalls(supabase_url.rstrip("/") + "/realtime/v1", key, connections=2, timeout=5)
        self._calls: Coalescer[dict[str, Any], bool] = Coalescer(
            self._send, lambda _message, _error: False, max_items=MAX_BATCH, name="broadcaster"
        )
        self.failures = 0
        self.requests = 0

    async def send(self, topic: str, event: str, payload: dict[str, Any], *, private: bool = True) -> bool:
        """Broadcast one message on `topic`; False (and logged) when Realtime did not take it."""
        return await self._calls.submit({"topic": topic, "event": event, "payload": payload, "private": private})

    async def _send(self, messages: list[dict[str, Any]]) -> list[bool]:
        try:
            ok = await self._post(messages)
        except Exception:  # e.g. a payload that is not JSON: these senders get False, the next batch goes
            self.failures += 1
            log.exception("broadcast failed", extra={"messages": len(messages)})
            ok = False
        return [ok] * len(messages)

    async def _post(self, messages: list[dict[str, Any]]) -> bool:
        self.requests += 1
        try:
            status, body = await self._realtime.post("/api/broadcast", {"messages": messages})
        except TransientError as exc:
            self.failures += 1
            log.warning("broadcast failed", extra={**_where(messages), "error": str(exc)})
            return False
        if status != 202:
            self.failures += 1
            log.warning(
                "broadcast refused",
                extra={**_where(messages), "status": status, "body": body[:200].decode("utf-8", "replace")},
            )
            return False
        return True

    async def aclose(self) -> None:
        await self._calls.flushed(5)
        await self._realtime.aclose()


def _where(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What a failed request carried, for its log line (not computed for requests that succeed)."""
    return {"topics": sorted({m["topic"] for m in messages})[:5], "messages": len(messages)}
