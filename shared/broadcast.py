"""Realtime Broadcast from a server: batched messages through the REST endpoint, best effort.

The database row stays the truth; a broadcast that fails is logged and the reply carries on.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("shared.broadcast")


class Broadcaster:
    def __init__(self, supabase_url: str, key: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            base_url=supabase_url.rstrip("/") + "/realtime/v1",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(5.0),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            transport=transport,
        )
        self.failures = 0

    async def send(self, topic: str, event: str, payload: dict[str, Any], *, private: bool = True) -> bool:
        """Broadcast one message on `topic`; False (and logged) when Realtime did not take it."""
        body = {"messages": [{"topic": topic, "event": event, "payload": payload, "private": private}]}
        try:
            response = await self._client.post("/api/broadcast", json=body)
        except httpx.HTTPError as exc:
            self.failures += 1
            log.warning("broadcast failed", extra={"topic": topic, "event": event, "error": repr(exc)})
            return False
        if response.status_code != 202:
            self.failures += 1
            log.warning(
                "broadcast refused",
                extra={"topic": topic, "event": event, "status": response.status_code, "body": response.text[:200]},
            )
            return False
        return True

    async def aclose(self) -> None:
        await self._client.aclose()
