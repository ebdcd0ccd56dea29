"""The `/rest/v1` ASGI app: PostgREST semantics over one transaction per request, run as the caller's role."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from devstack import tokens
from devstack.db import Database, role_dsn
from devstack.rest.errors import ApiError, from_postgres, jwt_expired, jwt_invalid, singular_error
from devstack.rest.memo import Memo
from devstack.rest.plan import Plan, Target, build
from devstack.rest.request import negotiate, parse_prefer, parse_range, profile
from devstack.rest.schema_cache import SchemaCache
from devstack.rest.watcher import SchemaWatcher
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack.rest")

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"
# The request's settings, as PostgREST makes them, all transaction-local.
_SETTINGS = (
    "search_path",
    "role",
    "request.jwt.claims",
    "request.method",
    "request.path",
    "request.headers",
    "request.cookies",
)


def _dollar_quoted(value: str) -> str:
    """`value` as a dollar-quoted literal: read verbatim whatever it holds (quotes, backslashes,
    standard_conforming_strings). The tag is one `value` does not contain, so nothing in it can close the
    literal: the closing `$tag$` starts with `$` and the tag holds none, so it cannot begin in `value`
    without `value` containing `$tag`."""
    tag = "v"
    while "$" + tag in value:
        tag = "v" + secrets.token_hex(4)
    return f"${tag}${value}${tag}$"


def _begin(readonly: bool, setup: list[str]) -> str:
    """BEGIN and the request's settings in one simple-query round trip (one less per request)."""
    if any("\x00" in value for value in setup):
        raise ApiError(400, "PGRST100", "NUL characters are not allowed in request headers or claims")
    values = ", ".join(
        f"pg_catalog.set_config('{name}', {_dollar_quoted(value)}, true)"
        for name, value in zip(_SETTINGS, setup, strict=True)
    )
    return f"begin{' read only' if readonly else ''}; select {values}"


class RestConfig(BaseSettings):
    """PostgREST's settings the devstack honours (env `PGRST_…`, as PostgREST reads them)."""

    model_config = SettingsConfigDict(env_prefix="PGRST_", extra="ignore")

    db_schemas: str = "public,graphql_public"
    db_extra_search_path: str = "public,extensions"
    db_anon_role: str = "anon"
    db_max_rows: int = 1000
    db_pool: int = 8  # two cores: a few busy connections beat many idle ones

    @property
    def schemas(self) -> list[str]:
        return [s.strip() for s in self.db_schemas.split(",") if s.strip()]


class _NoResetConnection(asyncpg.Connection):
    """Every setting we make is transaction-local, so the pool's RESET ALL round trip is pure cost."""

    def get_reset_query(self) -> str:
        return ""


@dataclass
class Caller:
    role: str
    claims: dict[str, Any]
    authed: bool


class RestApp:
    def __init__(self, db: Database, settings: DevstackSettings, config: RestConfig) -> None:
        self.db = db
        self.settings = settings
        self.config = config
        self.secret = settings.jwt_secret.get_secret_value()
        self.dsn = role_dsn(db.dsn, "authenticator", db.password)
        self.watcher = SchemaWatcher(lambda: asyncpg.connect(self.dsn), config.schemas, self._schema_changed)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._plans: Memo[Plan] = Memo(1024)
        self._tokens: Memo[dict[str, Any]] = Memo(1024)

    async def start(self) -> None:
        self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.stop()
        if self._pool is not None:
            await self._pool.close()

    async def _schema_changed(self) -> None:
        """After DDL, prepared statements may describe old row types: let the pool reconnect lazily."""
        if self._pool is not None:
            await self._pool.expire_connections()

    async def pool(self) -> asyncpg.Pool:
        """The request pool, opened on first use (once, however many requests arrive together)."""
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self.watcher.start()
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=1,
                        max_size=self.config.db_pool,
                        connection_class=_NoResetConnection,
                        statement_cache_size=500,
                        command_timeout=30,
                    )
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        try:
            response = await self.handle(scope, receive)
        except ApiError as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: Scope, receive: Receive) -> Response:
        method = scope["method"]
        path = _route_path(scope)
        headers, prefer = _headers(scope)
        caller = self.authenticate(headers.get("authorization"))
        if path in ("", "/"):
            return Response(b"{}", 200, media_type=JSON_TYPE)
        if method == "OPTIONS":
            allow = "OPTIONS,GET,HEAD,POST" if path.startswith("/rpc/") else "OPTIONS,GET,HEAD,POST,PATCH,DELETE"
            return Response(None, 200, {"Allow": allow})
        parts = path.strip("/").split("/")
        rpc = parts[0] == "rpc" and len(parts) == 2
        if len(parts) != 1 and not rpc:
            raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        target = Target(
            method=method,
            schema=profile(method, headers, self.config.schemas),
            name=parts[-1],
            rpc=rpc,
            media=negotiate(headers.get("accept")),
            prefs=parse_prefer(prefer),
            pairs=[],
            range=parse_range(headers.get("range")) if method == "GET" else None,
            body=await _read_body(receive, self.settings.max_body_bytes) if method not in ("GET", "HEAD") else b"",
            max_rows=self.config.db_max_rows,
        )
        cache = await self.watcher.current()
        plan = self._plan(cache, target, scope, prefer, headers)
        setup = [
            f"{_quote(target.schema)}, " + ", ".join(_quote(s) for s in self.config.db_extra_search_path.split(",")),
            caller.role,
            json.dumps(caller.claims),
            method,
            path,
            json.dumps(headers),
            json.dumps(_cookies(headers.get("cookie"))),
        ]
        row, total = await self.execute(plan, setup, caller, target.prefs.rollback)
        return respond(plan, target, row, total)

    def _plan(
        self, cache: SchemaCache, target: Target, scope: Scope, prefer: list[str], headers: dict[str, str]
    ) -> Plan:
        """GET/HEAD plans depend only on the URL and a few headers: build each shape once per schema cache."""
        query = scope.get("query_string", b"")
        if target.method not in ("GET", "HEAD"):
            target.pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            return build(cache, target)
        key = (
            id(cache),
            target.method,
            target.schema,
            scope["path"],
            query,
            target.media,
            tuple(prefer),
            headers.get("range"),
        )
        plan = self._plans.get(key)
        if plan is None or plan.cache is not cache:
            target.pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            plan = build(cache, target)
            plan.cache = cache
            self._plans.put(key, plan)
        return plan

    def _claims(self, token: str) -> dict[str, Any]:
        claims = self._tokens.get(token)
        if claims is None:
            claims = tokens.decode(token, self.secret)
            self._tokens.put(token, claims)
        elif isinstance(claims.get("exp"), int | float) and claims["exp"] + tokens.CLOCK_SKEW_SECONDS < tokens.now():
            raise tokens.TokenError("JWT expired", expired=True)
        return claims

    def authenticate(self, authorization: str | None) -> Caller:
        """No token → anon; a bad one → 401 PGRST301; an expired one → 401 PGRST303."""
        anon = self.config.db_anon_role
        if not authorization or not authorization.lower().startswith("bearer"):
            return Caller(anon, {"role": anon}, False)
        token = authorization[6:].strip()
        if not token:
            raise jwt_invalid("Empty JWT is sent in Authorization header")
        if token.count(".") != 2:
            raise jwt_invalid(f"Expected 3 parts in JWT; got {token.count('.') + 1}")
        try:
            claims = self._claims(token)
        except tokens.TokenError as exc:
            raise jwt_expired() if exc.expired else jwt_invalid("JWT cryptographic operation failed") from None
        role = claims.get("role")
        role = role if isinstance(role, str) and role else anon
        return Caller(role, claims, role != anon)

    async def execute(
        self, plan: Plan, setup: list[str], caller: Caller, rollback: bool = False
    ) -> tuple[asyncpg.Record, int | None]:
        """Run the plan in one transaction as the caller; `Prefer: tx=rollback` (or an error) rolls it back."""
        pool = await self.pool()
        try:
            async with pool.acquire() as conn:
                try:
                    await conn.execute(_begin(plan.readonly, setup))
                    row = await conn.fetchrow(plan.sql, *plan.params)
                    total = await _total(conn, plan, row)
                    if plan.singular and row["page_total"] != 1 and not plan.void:
                        raise singular_error(row["page_total"])
                except asyncpg.PostgresError as exc:
                    await _rollback(conn)
                    raise from_postgres(exc, caller.authed) from None
                except BaseException:
                    with contextlib.suppress(Exception):
                        await _rollback(conn)
                    raise
                if rollback:
                    # As PostgREST: deferred constraints still get checked before the rollback.
                    await conn.execute("set constraints all immediate")
                    await conn.execute("rollback")
                else:
                    await conn.execute("commit")
        except (OSError, asyncpg.InterfaceError) as exc:
            log.warning("database connection error: %s", exc)
            raise ApiError(503, "PGRST001", "Database client error. Retrying the connection.", str(exc)) from None
        assert row is not None
        return row, total


async def _total(conn: asyncpg.Connection, plan: Plan, row: asyncpg.Record) -> int | None:
    if plan.count is None:
        return None
    exact = row["total"] if row["total"] is not None else row["page_total"]
    if plan.count_sql is None or (plan.count == "estimated" and exact <= 1000):
        return int(exact)
    explained = await conn.fetchval(plan.count_sql, *plan.count_params)
    return int(json.loads(explained)[0]["Plan"]["Plan Rows"])


def respond(plan: Plan, target: Target, row: asyncpg.Record, total: int | None) -> Response:
    page_total = int(row["page_total"])
    headers = {}
    if target.prefs.applied:
        headers["Preference-Applied"] = ", ".join(target.prefs.applied)
    body: str | None = row["body"]
    if plan.action in ("read", "rpc"):
        status = 200
        if plan.action == "read" or plan.count is not None:
            status = _range_status(plan.offset, page_total, total)
            headers["Content-Range"] = _content_range(plan.offset, page_total, total)
        if plan.void:
            return Response(None, 204, headers)
    else:
        headers["Content-Range"] = f"*/{total if total is not None else '*'}"
        status = 201 if plan.action == "create" else 200
        if plan.action == "create" and target.prefs.resolution and row.get("inserted") is False:
            status = 200 if page_total else 201
        if target.prefs.representation != "full":
            return Response(None, 201 if plan.action == "create" else 204, headers)
    if target.method == "HEAD":
        return Response(None, status, headers, media_type=JSON_TYPE)
    if target.media == "csv":
        return Response(_csv(body or "[]"), status, headers, media_type="text/csv; charset=utf-8")
    media = OBJECT_TYPE if target.media == "object" else JSON_TYPE
    return Response(body, status, headers, media_type=media)


def _range_status(offset: int, page_total: int, total: int | None) -> int:
    if total is None:
        return 200
    if offset > total:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    return 206 if page_total < total else 200


def _content_range(offset: int, page_total: int, total: int | None) -> str:
    suffix = "*" if total is None else str(total)
    if page_total == 0:
        return f"*/{suffix}"
    return f"{offset}-{offset + page_total - 1}/{suffix}"


def _csv(body: str) -> str:
    rows = json.loads(body)
    rows = rows if isinstance(rows, list) else [rows]
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(rows[0]))
    for item in rows:
        writer.writerow(
            ["" if v is None else (json.dumps(v) if isinstance(v, dict | list) else v) for v in item.values()]
        )
    return out.getvalue()


def error_response(exc: ApiError) -> Response:
    headers = {"Proxy-Status": f"PostgREST; error={exc.code}", **exc.headers}
    return Response(exc.body(), exc.status, headers, media_type=JSON_TYPE)


async def _rollback(conn: asyncpg.Connection) -> None:
    """End the request's transaction, if it began: the pooled connection goes back clean (no RESET)."""
    if conn.is_in_transaction():
        await conn.execute("rollback")


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def _headers(scope: Scope) -> tuple[dict[str, str], list[str]]:
    """Headers lowercased (the last of repeated ones wins), and every `Prefer` value."""
    headers: dict[str, str] = {}
    prefer: list[str] = []
    for key, value in scope["headers"]:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        headers[name] = text
        if name == "prefer":
            prefer.append(text)
    return headers, prefer


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "PGRST413", "Payload Too Large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies[name] = value
    return cookies


def _quote(name: str) -> str:
    return '"' + name.strip().replace('"', '""') + '"'


def create_rest_app(db: Database, settings: DevstackSettings) -> RestApp:
    """The `/rest/v1` app; call `start()`/`stop()` from the gateway's lifespan (or run it standalone)."""
    return RestApp(db, settings, RestConfig())
