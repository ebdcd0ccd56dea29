"""The gateway's connections: read timeouts and per-client limits, so half-open connections cannot starve it.

uvicorn reads request headers without a deadline and refuses every request (503) once `limit_concurrency`
connections exist: 2,100 half-sent requests from one client once made REST, Auth, Realtime and the
workers' own requests all fail. Here, wrapped around uvicorn's own protocols (httptools for HTTP, the
sans-I/O websockets one after an upgrade):

- headers must arrive within `header_timeout_s` of the connection opening or of a request's first byte
  (408 and close), at most `max_header_bytes` of them (431); a body that stops arriving for
  `body_timeout_s` is closed (a large upload may take longer, as long as it moves);
- a client (a peer address) keeps at most `max_pending_per_client` connections that have not yet sent a
  whole request: beyond that, its oldest ones stalled for a fifth of the header timeout are closed, so a
  flood only pushes out its own sockets (a burst of fresh connections, say 200 from one test client or
  page, is let through: everything local comes from 127.0.0.1);
- when `max_connections` are open (bounded by the process's file limit), the oldest connection without
  a request in flight of the client holding the most connections is closed to make room;
- connections that carried the service-role key (the workers) are never closed to make room, and
  requests in flight and open websockets never are.

A request's own work is bounded elsewhere (statement timeouts, response budgets); this only governs
connections. It relies on uvicorn's protocol classes (pinned `uvicorn<1`); tests/test_connections.py
checks the behaviour end to end.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("devstack.gateway")

PENDING, BODY, ACTIVE, IDLE, UPGRADED = "pending", "body", "active", "idle", "upgraded"
_FILES_KEPT = 256  # file descriptors left for Postgres connections, logs and the like
_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_header_bytes: int = 65_536
    max_connections: int = 4096
    max_pending_per_client: int = 128
    trusted_keys: frozenset[str] = frozenset()  # service-role keys: their connections are never evicted


@dataclass(eq=False)
class _Connection:
    transport: asyncio.Transport
    client: _Client
    state: str = PENDING
    trusted: bool = False
    header_bytes: int = 0
    timer: asyncio.TimerHandle | None = None
    timer_state: str = ""  # the state the timer was armed for
    since: float = 0.0  # when it joined its client's group (event loop time)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
            self.timer_state = ""


@dataclass(eq=False)
class _Client:
    """One peer's connections by state, each group oldest first."""

    address: str
    pending: OrderedDict[asyncio.Transport, _Connection] = field(default_factory=OrderedDict)  # no whole request
    idle: OrderedDict[asyncio.Transport, _Connection] = field(default_factory=OrderedDict)  # kept alive
    busy: set[asyncio.Transport] = field(default_factory=set)  # a request in flight, or a websocket

    @property
    def size(self) -> int:
        return len(self.pending) + len(self.idle) + len(self.busy)

    def place(self, conn: _Connection) -> None:
        self.pending.pop(conn.transport, None)
        self.idle.pop(conn.transport, None)
        self.busy.discard(conn.transport)
        group = self.pending if conn.state in (PENDING, BODY) else self.idle if conn.state == IDLE else None
        if group is None:
            self.busy.add(conn.transport)
        else:
            conn.since = asyncio.get_running_loop().time()
            group[conn.transport] = conn


class ConnectionGuard:
    """Every open connection of the gateway, by client, with the state of its current request."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_connections = min(limits.max_connections, _file_limit() - _FILES_KEPT)
        self._all: dict[asyncio.Transport, _Connection] = {}
        self._clients: dict[str, _Client] = {}

    # -- lifecycle -------------------------------------------------------------------------------------

    def opened(self, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "local"
        if len(self._all) >= self.max_connections and not self._make_room():
            log.warning("connection refused: every connection has a request in flight", extra={"client": address})
            transport.abort()
            return
        client = self._clients.get(address) or self._clients.setdefault(address, _Client(address))
        conn = _Connection(transport, client)
        self._all[transport] = conn
        client.place(conn)
        self._arm(conn)  # the first request's headers are due within the header timeout
        self._limit_pending(client)

    def closed(self, transport: asyncio.Transport) -> None:
        conn = self._all.pop(transport, None)
        if conn is None:
            return
        conn.disarm()
        client = conn.client
        client.pending.pop(transport, None)
        client.idle.pop(transport, None)
        client.busy.discard(transport)
        if not client.size:
            self._clients.pop(client.address, None)

    def received(self, transport: asyncio.Transport, data: bytes) -> bool:
        """Bytes arrived (before the parser reads them); False when they are refused (headers too large)."""
        conn = self._all.get(transport)
        if conn is None:
            return True
        if conn.state == IDLE:  # the first bytes of the next request on a kept-alive connection
            conn.header_bytes = 0
            self._move(conn, PENDING)
            self._limit_pending(conn.client)
        if conn.state != PENDING:
            return True
        end = data.find(b"\r\n\r\n")
        conn.header_bytes += end if end >= 0 else len(data)
        if conn.header_bytes > self.limits.max_header_bytes:
            conn.transport.write(_TOO_LARGE_431)
            self._close(conn)
            return False
        return True

    def parsed(self, transport: asyncio.Transport) -> None:
        """The parser has read what arrived: (re)arm the deadline of the state it left the request in."""
        conn = self._all.get(transport)
        if conn is None:
            return
        if conn.state == BODY:
            self._arm(conn)  # a body's deadline moves with every chunk that arrives
        elif conn.state == PENDING:
            if conn.timer_state != PENDING:
                self._arm(conn)  # the headers' deadline does not
        else:
            conn.disarm()

    def headers_done(self, transport: asyncio.Transport, headers: list[tuple[bytes, bytes]]) -> None:
        conn = self._all.get(transport)
        if conn is None:
            return
        if not conn.trusted and self.limits.trusted_keys:
            conn.trusted = any(_key(name, value) in self.limits.trusted_keys for name, value in headers)
        self._move(conn, BODY)

    def request_read(self, transport: asyncio.Transport, answered: bool) -> None:
        conn = self._all.get(transport)
        if conn is not None and conn.state in (PENDING, BODY):
            self._move(conn, IDLE if answered else ACTIVE)
            conn.disarm()

    def response_sent(self, transport: asyncio.Transport) -> None:
        conn = self._all.get(transport)
        if conn is not None and conn.state == ACTIVE:
            self._move(conn, IDLE)  # uvicorn's keep-alive timeout closes it if nothing follows

    def upgraded(self, transport: asyncio.Transport) -> None:
        conn = self._all.get(transport)
        if conn is not None:
            self._move(conn, UPGRADED)
            conn.disarm()

    # -- limits ----------------------------------------------------------------------------------------

    def _limit_pending(self, client: _Client) -> None:
        """Beyond its allowance, close the client's oldest connections stalled without a whole request."""
        stalled = asyncio.get_running_loop().time() - self.limits.header_timeout_s / 5
        while len(client.pending) > self.limits.max_pending_per_client:
            oldest = next(iter(client.pending.values()))
            if oldest.since > stalled:
                return
            self._evict(oldest, "too many unfinished requests from one client")

    def _make_room(self) -> bool:
        """Close one connection without a request in flight, from the client holding the most."""
        for client in sorted(self._clients.values(), key=lambda c: -c.size):
            for group in (client.pending, client.idle):
                victim = next((c for c in group.values() if not c.trusted), None)
                if victim is not None:
                    self._evict(victim, "connection limit reached")
                    return True
        return False

    def _evict(self, conn: _Connection, reason: str) -> None:
        log.info("closing connection: %s", reason, extra={"client": conn.client.address, "state": conn.state})
        if conn.state == PENDING:
            conn.transport.write(_TIMEOUT_408)
        self._close(conn)

    def _close(self, conn: _Connection) -> None:
        conn.disarm()
        conn.transport.close()
        self.closed(conn.transport)

    def _move(self, conn: _Connection, state: str) -> None:
        conn.state = state
        conn.client.place(conn)

    # -- timers ----------------------------------------------------------------------------------------

    def _arm(self, conn: _Connection) -> None:
        conn.disarm()
        seconds = self.limits.header_timeout_s if conn.state == PENDING else self.limits.body_timeout_s
        conn.timer = asyncio.get_running_loop().call_later(seconds, self._expire, conn)
        conn.timer_state = conn.state

    def _expire(self, conn: _Connection) -> None:
        conn.timer = None
        if conn.transport.is_closing() or conn.state not in (PENDING, BODY):
            return
        log.info("closing connection: read timed out", extra={"client": conn.client.address, "state": conn.state})
        if conn.state == PENDING:
            conn.transport.write(_TIMEOUT_408)
        self._close(conn)


def _key(name: bytes, value: bytes) -> str:
    if name == b"apikey":
        return value.decode("latin-1").strip()
    if name == b"authorization" and value[:7].lower() == b"bearer ":
        return value[7:].decode("latin-1").strip()
    return ""


def _file_limit() -> int:
    """The process's open-file limit, raised to its hard limit (bounded) when that is higher."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard if hard != resource.RLIM_INFINITY else 65_536, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 65_536


def protocols(guard: ConnectionGuard) -> tuple[type[HttpToolsProtocol], type[WebSocketsSansIOProtocol]]:
    """uvicorn's HTTP and websocket protocol classes, reporting to `guard`."""

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            guard.closed(self.transport)
            super().connection_lost(exc)

    class GuardedHttp(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ws_protocol_class = GuardedWebSocket

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            guard.opened(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            guard.closed(self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if guard.received(self.transport, data):
                super().data_received(data)
                guard.parsed(self.transport)

        def on_headers_complete(self) -> None:
            guard.headers_done(self.transport, self.headers)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            guard.request_read(self.transport, answered=self.cycle is not None and self.cycle.response_complete)

        def on_response_complete(self) -> None:
            guard.response_sent(self.transport)
            super().on_response_complete()

        def handle_websocket_upgrade(self) -> None:
            guard.upgraded(self.transport)
            super().handle_websocket_upgrade()

    return GuardedHttp, GuardedWebSocket
