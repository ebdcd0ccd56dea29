"""The Realtime service of the gateway: `/websocket`, `/api/broadcast` and the change feed behind them."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from devstack.db import Database, role_dsn
from devstack.realtime import protocol
from devstack.realtime.authz import AuthError, verify
from devstack.realtime.broadcast import BroadcastApi, broadcast_row
from devstack.realtime.catalog import TableInfo
from devstack.realtime.changes import Change, ChangeDispatcher
from devstack.realtime.feed import MESSAGES_TABLE, SESSION_SETTINGS, ChangeFeed, RawRows
from devstack.realtime.hub import Hub
from devstack.realtime.lanes import Lanes
from devstack.realtime.session import Services, Session
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack.realtime")

# Let the socket senders run every this many broadcasts, so that a big transaction fills only the queues
# of sockets that really cannot keep up (keep it well below realtime_socket_queue_size).
YIELD_EVERY = 16


class Realtime:
    """Owns the hub of joined channels and the change feed; `start()`/`stop()` run in the gateway lifespan."""

    def __init__(self, db: Database, settings: DevstackSettings) -> None:
        self.db = db
        self.settings = settings
        self.hub = Hub()
        self.services = Services(settings=settings, hub=self.hub, admin_pool=self._admin_pool)
        dsn = role_dsn(db.dsn, "supabase_admin", db.password)
        self.feed = ChangeFeed(dsn, self._on_changes, self._wants)
        self.lanes = Lanes(
            dsn,
            ChangeDispatcher(self.feed.catalog, settings.realtime_max_record_bytes),
            self.hub,
            budget_s=settings.realtime_transaction_budget_s,
            max_backlog=settings.realtime_backlog_max_changes,
            visibility_wait_s=settings.realtime_visibility_wait_s,
            session_settings=SESSION_SETTINGS,
        )
        api = BroadcastApi(self.services)
        self.app = Starlette(
            routes=[
                WebSocketRoute("/websocket", self._websocket),
                Route("/api/broadcast", api.batch, methods=["POST"]),
                Route("/api/broadcast/{topic}/events/{event}", api.single, methods=["POST"]),
                Route("/api/health", self._health),
            ]
        )
        self.app.state.realtime = self

    async def start(self) -> None:
        self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()
        await self.lanes.stop()

    async def _admin_pool(self) -> asyncpg.Pool:
        return await self.db.pool("supabase_admin")

    def _wants(self, table: TableInfo, kind: str) -> bool:
        """Broadcasts from the database always; a row change when a joined binding matches it."""
        if (table.schema, table.name) == MESSAGES_TABLE:
            return True
        return self.hub.wants_change(table.schema, table.name, kind)

    async def _on_changes(self, conn: asyncpg.Connection, changes: list[Change], raw: RawRows | None) -> None:
        """A committed transaction: broadcasts from the database go out at once, row changes to the lanes
        (`raw`: the rows of a large one not decoded yet, never broadcasts)."""
        rows: list[Change] = []
        broadcasts = 0
        for change in changes:
            if (change.table.schema, change.table.name) == MESSAGES_TABLE:
                broadcast_row(self.services, change)
                broadcasts += 1
                if broadcasts % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            else:
                rows.append(change)
        await self.lanes.transaction(conn, rows, raw)

    async def _health(self, _: object) -> JSONResponse:
        return JSONResponse({"status": "ok" if self.feed.ready.is_set() else "starting", "slot": self.feed.slot})

    async def _websocket(self, ws: WebSocket) -> None:
        vsn = ws.query_params.get("vsn", protocol.VSN_1)
        token = ws.query_params.get("apikey") or ws.headers.get("x-api-key") or ws.headers.get("apikey")
        try:
            if vsn not in protocol.SUPPORTED_VSNS:
                raise AuthError("UnsupportedVersion", f"vsn {vsn} is not supported")
            verify(token, self.settings)
        except AuthError as exc:
            log.info("realtime connection refused", extra={"reason": exc.reason})
            await ws.send_denial_response(JSONResponse({"message": exc.reason}, status_code=401))
            return
        assert token is not None
        await Session(ws, vsn, token, self.services).run()


def create_realtime_app(db: Database, settings: DevstackSettings) -> Starlette:
    """The ASGI app to mount at /realtime/v1; its `state.realtime` has the start/stop hooks."""
    return Realtime(db, settings).app
