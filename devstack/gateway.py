"""The devstack API gateway: one ASGI app on :54321 routing /auth/v1, /rest/v1, /realtime/v1 and /storage/v1."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from devstack.auth import create_auth_app
from devstack.db import Database
from devstack.mail import Mailbox
from devstack.project import Project
from devstack.realtime import create_realtime_app
from devstack.rest import create_rest_app
from devstack.settings import DevstackSettings
from devstack.storage import create_storage_app

log = logging.getLogger("devstack.gateway")


class KeyAliasMiddleware:
    """Turn the opaque `sb_publishable_…`/`sb_secret_…` keys into their JWTs, as the CLI's gateway does.

    An `apikey` of either alias becomes `Authorization: Bearer <matching JWT>` when the request carries
    no other bearer token; an `Authorization: Bearer sb_…` alias is replaced the same way.
    """

    def __init__(self, app: ASGIApp, settings: DevstackSettings) -> None:
        self.app = app
        self.aliases = {
            settings.publishable_key: settings.anon_key,
            settings.secret_key: settings.service_role_key,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        apikey = next((v.decode() for k, v in headers if k == b"apikey"), None)
        auth_index = next((i for i, (k, _) in enumerate(headers) if k == b"authorization"), None)
        bearer = headers[auth_index][1].decode() if auth_index is not None else ""
        token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
        if token in self.aliases:
            assert auth_index is not None
            headers[auth_index] = (b"authorization", f"Bearer {self.aliases[token]}".encode())
        elif not token and apikey in self.aliases:
            headers = [h for h in headers if h[0] != b"authorization"]
            headers.append((b"authorization", f"Bearer {self.aliases[apikey]}".encode()))
        else:
            return scope
        if apikey in self.aliases:
            headers = [h for h in headers if h[0] != b"apikey"]
            headers.append((b"apikey", self.aliases[apikey].encode()))
        return {**scope, "headers": headers}


async def _health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: DevstackSettings, database_dsn: str, mailbox: Mailbox | None = None) -> Starlette:
    """Build the gateway; `database_dsn` is a superuser DSN from which each service derives its role.

    Auth's emails go to `mailbox` (the mail catcher serves it); `app.state.mailbox` holds it.
    """
    mailbox = mailbox or Mailbox()
    db = Database(dsn=database_dsn, password=settings.db_password.get_secret_value())
    project = Project.load(settings.supabase_dir / "config.toml")
    realtime_app = create_realtime_app(db, settings)
    rest_app = create_rest_app(db, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        log.info("gateway up", extra={"api_url": settings.api_url})
        await realtime_app.state.realtime.start()
        await rest_app.start()
        try:
            yield
        finally:
            await realtime_app.state.realtime.stop()
            await rest_app.stop()
            await db.close()

    routes = [
        Route("/health", _health),
        Mount("/auth/v1", app=create_auth_app(db, settings, project.auth, mailbox)),
        Mount("/realtime/v1", app=realtime_app),
        Mount("/rest/v1", app=rest_app),
        Mount("/storage/v1", app=create_storage_app(db, settings, project)),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Content-Range", "X-Total-Count", "Link", "X-Supabase-Api-Version"],
            max_age=86400,
        ),
        Middleware(KeyAliasMiddleware, settings=settings),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.db = db
    app.state.settings = settings
    app.state.mailbox = mailbox
    return app
