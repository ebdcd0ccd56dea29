"""Realtime as a wake-up signal: queued work nudges the claim loop; nothing depends on its delivery.

The database broadcasts on the private topic `workers:jobs`, which only the service role may join
(20261206000000_job_kinds): `wake` once per transaction that queues due work, with that transaction's id
({xid}, 20261210001300), and `safety` with a safety decision ({message_id, cleared}) whose reply may be
held back by a worker other than the one that finished its assessment (workers/safety.py,
20261210000800). Job rows themselves are not in the Realtime publication: their changes would tell anyone
who is active and when.

The Python realtime client retries a few times and then gives up silently, and may lose bindings on
reconnect. This supervisor checks the socket and channel state itself and rebuilds both from scratch
when they are not healthy; every (re)subscription triggers a sweep, so anything missed while the
subscription was down is claimed anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates
from realtime.types import BroadcastPayload, ChannelStates, RealtimeChannelOptions

log = logging.getLogger("workers.wakeup")


TOPIC = "workers:jobs"


class JobWakeup:
    """Keeps a subscription to the private topic `workers:jobs` alive: `wake(xid)` on each `wake` (the
    transaction that queued the work, None if it does not say) and on each (re)subscription (None: a sweep),
    and `on_safety(message_id, cleared)` on each `safety` event."""

    def __init__(
        self,
        supabase_url: str,
        key: str,
        wake: Callable[[int | None], None],
        *,
        on_safety: Callable[[str, bool], None] | None = None,
        check_seconds: float = 2.0,
        unhealthy_grace: float = 6.0,
    ) -> None:
        self.url = supabase_url.rstrip("/") + "/realtime/v1"
        self.key = key
        self.wake = wake
        self.on_safety = on_safety
        self.check_seconds = check_seconds
        self.unhealthy_grace = unhealthy_grace
        self.client: AsyncRealtimeClient | None = None
        self.channel: AsyncRealtimeChannel | None = None
        self.subscribed = False
        self.rebuilds = 0
        self._unhealthy_since: float | None = None

    @property
    def healthy(self) -> bool:
        return bool(
            self.client is not None
            and self.client.is_connected
            and self.channel is not None
            and self.channel.state == ChannelStates.JOINED
            and self.subscribed
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until `stop` is set."""
        while not stop.is_set():
            if self.client is None:
                await self._build()
            elif self.healthy:
                self._unhealthy_since = None
            else:
                now = time.monotonic()
                self._unhealthy_since = self._unhealthy_since or now
                if now - self._unhealthy_since > self.unhealthy_grace:
                    log.warning("realtime subscription lost; rebuilding it", extra={"rebuilds": self.rebuilds + 1})
                    await self._teardown()
                    self.rebuilds += 1
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.check_seconds)
        await self._teardown()

    async def _build(self) -> None:
        self.subscribed = False
        client = AsyncRealtimeClient(self.url, token=self.key, auto_reconnect=True, max_retries=3)
        options: RealtimeChannelOptions = {
            "config": {"private": True, "broadcast": {"ack": False, "self": False}, "presence": None}
        }
        channel = client.channel(TOPIC, options)
        channel.on_broadcast("wake", self._on_wake)
        channel.on_broadcast("safety", self._on_safety)
        self.client, self.channel = client, channel
        try:
            await channel.subscribe(self._on_state)
        except Exception as exc:  # the server is down or refused us: retry at the next check
            log.warning("realtime subscribe failed", extra={"error": repr(exc)})
            self._unhealthy_since = self._unhealthy_since or time.monotonic()

    def _on_state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        if state == RealtimeSubscribeStates.SUBSCRIBED:
            self.subscribed = True
            log.info("subscribed to the workers' wake-up topic", extra={"topic": TOPIC})
            self.wake(None)  # sweep: anything enqueued while we were not listening
        else:
            self.subscribed = False
            log.warning("realtime channel state", extra={"state": str(state), "error": repr(error)})

    def _on_wake(self, message: BroadcastPayload) -> None:
        xid = (message.get("payload") or {}).get("xid")
        self.wake(int(xid) if isinstance(xid, str) and xid.isdigit() else None)

    def _on_safety(self, message: BroadcastPayload) -> None:
        payload = message.get("payload") or {}
        if self.on_safety is not None and isinstance(payload.get("message_id"), str):
            self.on_safety(payload["message_id"], payload.get("cleared") is True)

    async def _teardown(self) -> None:
        client, self.client, self.channel, self.subscribed = self.client, None, None, False
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), timeout=5)
