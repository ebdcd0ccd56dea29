"""One Realtime websocket: Phoenix frames in, a bounded queue of frames out, the channels it joined.

A frame the client gets wrong is logged and answered; it never ends the socket. A socket whose queue
overflows (it cannot keep up) is dropped and logged so that it never slows the others down; a socket
that sends nothing for `realtime_idle_timeout_s` (Phoenix: 60 s without heartbeat) is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.websockets import WebSocket, WebSocketDisconnect

from devstack.realtime import protocol
from devstack.realtime.authz import AuthError, topic_permissions, verify
from devstack.realtime.channel import Channel
from devstack.realtime.hub import Hub
from devstack.realtime.joins import JoinRequest, replay, subscribe_changes
from devstack.realtime.protocol import Frame, FrameError
from devstack.settings import DevstackSettings
from devstack.tokens import now

log = logging.getLogger("devstack.realtime")

MAX_TOKEN_CHECK_S = 3600  # re-verify at least hourly, as the real server does


@dataclass(frozen=True)
class Services:
    settings: DevstackSettings
    hub: Hub
    admin_pool: Callable[[], Awaitable[asyncpg.Pool]]


class Session:
    def __init__(self, ws: WebSocket, vsn: str, token: str, services: Services) -> None:
        self.ws = ws
        self.vsn = vsn
        self.token = token
        self.services = services
        self.channels: dict[str, Channel] = {}
        self._queue: asyncio.Queue[str | bytes] = asyncio.Queue(services.settings.realtime_socket_queue_size)
        self._timers: dict[Channel, asyncio.Task[None]] = {}
        self._main: asyncio.Task[Any] | None = None
        self._dropped = False

    # -- outbox -------------------------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        self._enqueue(protocol.encode(self.vsn, frame))

    def push_broadcast(self, topic: str, event: str, payload: Any, meta: dict[str, Any] | None) -> None:
        if self.vsn == protocol.VSN_2:
            self._enqueue(protocol.encode_user_broadcast(topic, event, payload, meta))
        elif not isinstance(payload, bytes | bytearray):  # vsn 1.0.0 cannot carry binary payloads
            body: dict[str, Any] = {"type": "broadcast", "event": event, "payload": payload}
            if meta:
                body["meta"] = meta
            self.push(Frame(topic, "broadcast", body))

    def _enqueue(self, data: str | bytes) -> None:
        if self._dropped:
            return
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self._drop("send queue full: the client cannot keep up", logging.WARNING)

    def _drop(self, reason: str, level: int = logging.INFO) -> None:
        if self._dropped:
            return
        self._dropped = True
        log.log(level, "dropping realtime socket: %s", reason, extra={"topics": list(self.channels)})
        if self._main is not None:
            self._main.cancel()

    async def _send_loop(self) -> None:
        while True:
            data = await self._queue.get()
            try:
                if isinstance(data, str):
                    await self.ws.send_text(data)
                else:
                    await self.ws.send_bytes(data)
            except (OSError, RuntimeError, WebSocketDisconnect) as exc:
                self._drop(f"send failed: {exc!r}")
                return

    # -- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.ws.accept()
        self._main = asyncio.current_task()
        sender = asyncio.create_task(self._send_loop())
        overflowed = False
        try:
            await self._receive_loop()
        except asyncio.CancelledError:
            if not self._dropped:
                raise
            overflowed = True
            if self._main is not None:
                self._main.uncancel()
        finally:
            self._dropped = True  # from now on frames for this socket are discarded
            sender.cancel()
            for channel in list(self.channels.values()):
                self._forget(channel)
            with contextlib.suppress(Exception):
                await self.ws.close(1011 if overflowed else 1000)

    async def _receive_loop(self) -> None:
        idle = self.services.settings.realtime_idle_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout=idle)
            except TimeoutError:
                log.info("closing idle realtime socket", extra={"idle_s": idle})
                return
            if message["type"] == "websocket.disconnect":
                return
            try:
                if message.get("text") is not None:
                    frame = protocol.decode_text(self.vsn, message["text"])
                else:
                    frame = protocol.decode_binary(message.get("bytes") or b"")
            except FrameError as exc:
                log.warning("malformed realtime frame", extra={"error": str(exc)})
                self.push(Frame("phoenix", "phx_reply", {"status": "error", "response": {"reason": str(exc)}}))
                continue
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        try:
            await self._route(frame)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.warning("realtime frame failed", extra={"event": frame.event, "error": str(exc)})
            self.push(
                protocol.reply(frame, "error", {"reason": "Realtime was unable to connect to the project database"})
            )

    async def _route(self, frame: Frame) -> None:
        if frame.topic == "phoenix" and frame.event == "heartbeat":
            self.push(protocol.reply(frame, "ok"))
        elif frame.event == "phx_join":
            await self._join(frame)
            return
        channel = self.channels.get(frame.topic)
        if channel is None:
            if frame.topic != "phoenix":
                self.push(protocol.reply(frame, "error", {"reason": "unmatched topic"}))
        elif frame.event == "phx_leave":
            self._forget(channel)
            self.push(protocol.reply(frame, "ok"))
        elif frame.event == "access_token":
            await self._refresh_token(channel, frame.payload)
        elif frame.event == "broadcast":
            await self._broadcast(channel, frame)
        elif frame.event == "presence":
            self._presence(channel, frame)
        else:
            log.info("unexpected realtime message", extra={"event": frame.event, "topic": frame.topic})

    # -- channels -----------------------------------------------------------------------------------
    async def _join(self, frame: Frame) -> None:
        previous = self.channels.get(frame.topic)
        if previous is not None:  # a rejoin silently replaces the old channel, as Phoenix does
            self._forget(previous)
        elif len(self.channels) >= self.services.settings.realtime_max_channels_per_client:
            log.info("realtime join refused: too many channels", extra={"topic": frame.topic})
            self.push(protocol.reply(frame, "error", {"reason": "ChannelRateLimitReached: Too many channels"}))
            return
        try:
            request = JoinRequest.parse(frame, self.token, self.services.settings)
            claims = verify(request.token, self.services.settings)
            if request.private:
                await self._check_read(request.sub_topic, claims)
        except AuthError as exc:
            log.info("realtime join refused", extra={"topic": frame.topic, "reason": exc.reason})
            self.push(protocol.reply(frame, "error", {"reason": exc.reason}))
            return
        channel = request.channel(self, claims)
        self.channels[frame.topic] = channel
        self.services.hub.add(channel)
        self.push(protocol.reply(frame, "ok", {"postgres_changes": request.echo}))
        self._schedule_token_check(channel)
        if request.presence_enabled:
            self.push(self.services.hub.presence_state(channel))
        if request.replay is not None:
            await replay(await self.services.admin_pool(), channel, request.replay)
        if request.changes:
            pool = await self.services.admin_pool()
            await subscribe_changes(pool, channel, request, self.services.hub)

    async def _check_read(self, sub_topic: str, claims: dict[str, Any]) -> None:
        pool = await self.services.admin_pool()
        permissions = await topic_permissions(pool, sub_topic, claims, check_write=False)
        if not permissions.read:
            raise AuthError("Unauthorized", f"You do not have permissions to read from this Channel topic: {sub_topic}")

    def _forget(self, channel: Channel) -> None:
        self.services.hub.remove(channel)
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        timer = self._timers.pop(channel, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def _close_channel(self, channel: Channel) -> None:
        self._forget(channel)
        self.push(Frame(channel.topic, "phx_close", {}, channel.join_ref, channel.join_ref))

    def _shutdown(self, channel: Channel, message: str) -> None:
        """Close a channel the way the server does on a bad token: a system error, then phx_close."""
        log.info("realtime channel shut down", extra={"topic": channel.topic, "reason": message})
        channel.system("error", message, "system")
        self._close_channel(channel)

    def _schedule_token_check(self, channel: Channel) -> None:
        old = self._timers.pop(channel, None)
        if old is not None:
            old.cancel()
        delay = max(0, min(int(channel.claims.get("exp", 0)) - now(), MAX_TOKEN_CHECK_S))
        self._timers[channel] = asyncio.create_task(self._check_token_later(channel, delay))

    async def _check_token_later(self, channel: Channel, delay: float) -> None:
        await asyncio.sleep(delay)
        await asyncio.sleep(0.05)  # land just after `exp`
        try:
            verify(channel.token, self.services.settings)
        except AuthError as exc:
            self._shutdown(channel, exc.message)
            return
        self._timers.pop(channel, None)
        self._schedule_token_check(channel)

    async def _refresh_token(self, channel: Channel, payload: Any) -> None:
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or token == channel.token or token.startswith("sb_"):
            return
        try:
            claims = verify(token, self.services.settings)
            if channel.private:
                await self._check_read(channel.sub_topic, claims)
        except AuthError as exc:
            message = exc.message
            if exc.code == "Unauthorized":
                message = f"You no longer have permission to read from this Channel topic: {channel.sub_topic}"
            self._shutdown(channel, message)
            return
        channel.authorize(token, claims)
        self._schedule_token_check(channel)

    def _presence(self, channel: Channel, frame: Frame) -> None:
        """`track` / `untrack` from the client; everyone on the topic gets the presence_diff."""
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        if payload.get("event") == "track":
            self.services.hub.track(channel, payload.get("payload"))
        elif payload.get("event") == "untrack":
            self.services.hub.untrack(channel)
        else:
            self.push(protocol.reply(frame, "error", {"reason": "presence event must be track or untrack"}))
            return
        self.push(protocol.reply(frame, "ok"))

    async def _broadcast(self, channel: Channel, frame: Frame) -> None:
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        event = payload.get("event")
        if not isinstance(event, str):
            self.push(protocol.reply(frame, "error", {"reason": "broadcast needs an event"}))
            return
        if channel.private and channel.can_write is None:
            pool = await self.services.admin_pool()
            permissions = await topic_permissions(pool, channel.sub_topic, channel.claims, check_write=True)
            channel.can_write = permissions.write
        if channel.private and not channel.can_write:
            log.info("realtime broadcast refused", extra={"topic": channel.topic})
            if channel.ack_broadcast:
                reason = f"You do not have permissions to write to this Channel topic: {channel.sub_topic}"
                self.push(protocol.reply(frame, "error", {"reason": reason}))
            return
        if frame.size > self.services.settings.realtime_max_payload_bytes and _too_large(
            payload.get("payload"), self.services.settings.realtime_max_payload_bytes
        ):
            # As Realtime: not relayed; with `ack`, `{"status": "error", "response": "payload_size_exceeded"}`.
            log.info("realtime broadcast refused: payload too large", extra={"topic": channel.topic})
            if channel.ack_broadcast:
                self.push(
                    Frame(
                        frame.topic,
                        "phx_reply",
                        {"status": "error", "response": "payload_size_exceeded"},
                        frame.ref,
                        frame.join_ref,
                    )
                )
            return
        self.services.hub.broadcast(channel.sub_topic, channel.private, event, payload.get("payload"), sender=channel)
        if channel.ack_broadcast:
            self.push(protocol.reply(frame, "ok"))


def _too_large(payload: Any, limit: int) -> bool:
    if isinstance(payload, bytes | bytearray):
        return len(payload) > limit
    return len(json.dumps(payload).encode()) > limit
