"""The `/rest/v1` ASGI app: PostgREST semantics over one transaction per request, run as the caller's role."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import asyncpg
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from devstack import tokens
from devstack.db import Database, role_dsn
from devstack.rest import guard
from devstack.rest.config import RestConfig, RoleSettings
from devstack.rest.errors import ApiError, from_postgres, jwt_expired, jwt_invalid, singular_error
from devstack.rest.memo import Memo
from devstack.rest.plan import Plan, Target, build
from devstack.rest.request import negotiate, parse_prefer, parse_range, profile
from devstack.rest.response import JSON_TYPE, error_response, explained, respond
from devstack.rest.schema_cache import SchemaCache
from devstack.rest.watcher import SchemaWatcher
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack.rest")
T = TypeVar("T")

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


def _begin(readonly: bool, setup: list[str], role: RoleSettings) -> str:
    """BEGIN and the request's settings in one simple-query round trip (one less per request).

    The impersonated role's own settings (`statement_timeout` of anon and authenticated…) follow, as
    PostgREST applies them: the gateway logs in as `authenticator`, so Postgres itself never would."""
    pairs = [*zip(_SETTINGS, setup, strict=True), *role.settings]
    if any("\x00" in value for _, value in pairs):
        raise ApiError(400, "PGRST100", "NUL characters are not allowed in request headers or claims")
    values = ", ".join(
        f"pg_catalog.set_config({_dollar_quoted(name)}, {_dollar_quoted(value)}, true)" for name, value in pairs
    )
    isolation = f" isolation level {role.isolation}" if role.isolation else ""
    return f"begin{isolation}{' read only' if readonly else ''}; select {values}"


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
        self.base_config = config
        self.secret = settings.jwt_secret.get_secret_value()
        self.dsn = role_dsn(db.dsn, "authenticator", db.password)
        self.watcher = SchemaWatcher(lambda: asyncpg.connect(self.dsn), config, self._schema_changed)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._plans: Memo[Plan] = Memo(1024)
        self._tokens: Memo[dict[str, Any]] = Memo(1024)

    @property
    def config(self) -> RestConfig:
        """The configuration in force: environment, then the in-database `pgrst.*` settings."""
        return self.watcher.config.config

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
                        max_size=self.base_config.db_pool,
                        connection_class=_NoResetConnection,
                        statement_cache_size=500,
                        command_timeout=30,
                        init=self._init_connection,
                    )
        return self._pool

    async def _init_connection(self, conn: asyncpg.Connection) -> None:
        await guard.install(conn, self.settings.rest_max_json_bytes)

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
        cache = await self.watcher.current()
        effective = self.watcher.config
        config = effective.config
        caller = self.authenticate(headers.get("authorization"), config.db_anon_role)
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
            schema=profile(method, headers, config.schemas),
            name=parts[-1],
            rpc=rpc,
            media=negotiate(headers.get("accept"), config.db_plan_enabled),
            prefs=parse_prefer(prefer),
            pairs=[],
            range=parse_range(headers.get("range")) if method == "GET" else None,
            body=await _read_body(receive, self.settings.max_body_bytes) if method not in ("GET", "HEAD") else b"",
            max_rows=config.db_max_rows,
            content_type=headers.get("content-type", "application/json"),
            aggregates=config.db_aggregates_enabled,
            bound=True,
        )
        plan = self._plan(cache, target, scope, prefer, headers)
        setup = [
            ", ".join(_quote(s) for s in [target.schema, *config.extra_search_path]),
            caller.role,
            json.dumps(caller.claims),
            method,
            path,
            json.dumps(headers),
            json.dumps(_cookies(headers.get("cookie"))),
        ]
        role = effective.role(caller.role)
        if plan.explain is not None:
            return explained(target, await self.explain(plan, setup, role, caller, target.prefs.rollback))
        row, total = await self.execute(plan, setup, role, caller, target.prefs.rollback)
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

    def authenticate(self, authorization: str | None, anon: str = "anon") -> Caller:
        """No token → anon; a bad one → 401 PGRST301; an expired one → 401 PGRST303."""
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
        self, plan: Plan, setup: list[str], role: RoleSettings, caller: Caller, rollback: bool = False
    ) -> tuple[asyncpg.Record, int | None]:
        """Run the plan in one transaction as the caller; `Prefer: tx=rollback` (or an error) rolls it back."""

        async def run(conn: asyncpg.Connection) -> tuple[asyncpg.Record, int | None]:
            row = await conn.fetchrow(plan.sql, *plan.params)
            assert row is not None
            total = await _total(conn, plan, row)
            if plan.singular and row["page_total"] != 1 and not plan.void:
                raise singular_error(row["page_total"])
            if plan.max_affected is not None and row["page_total"] > plan.max_affected:
                raise ApiError(
                    400,
                    "PGRST124",
                    "Query result exceeds max-affected preference constraint",
                    f"The query affects {row['page_total']} rows",
                )
            return row, total

        return await self._transaction(plan, setup, role, caller, rollback, run)

    async def explain(self, plan: Plan, setup: list[str], role: RoleSettings, caller: Caller, rollback: bool) -> str:
        """The EXPLAIN of the plan's statement, run as the caller (with `analyze`, executed as EXPLAIN does)."""
        assert plan.explain is not None
        options = ", ".join([f"format {plan.explain.format}", *plan.explain.options])

        async def run(conn: asyncpg.Connection) -> str:
            rows = await conn.fetch(f"explain ({options}) {plan.sql}", *plan.params)
            if plan.explain is not None and plan.explain.format == "json":
                return str(rows[0][0])
            return "\n".join(str(r[0]) for r in rows)

        return await self._transaction(plan, setup, role, caller, rollback, run)

    async def _transaction(
        self,
        plan: Plan,
        setup: list[str],
        role: RoleSettings,
        caller: Caller,
        rollback: bool,
        run: Callable[[asyncpg.Connection], Awaitable[T]],
    ) -> T:
        pool = await self.pool()
        try:
            async with pool.acquire() as conn:
                try:
                    await conn.execute(_begin(plan.readonly, setup, role))
                    result = await run(conn)
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
        return result


async def _total(conn: asyncpg.Connection, plan: Plan, row: asyncpg.Record) -> int | None:
    if plan.count is None:
        return None
    exact = row["total"] if row["total"] is not None else row["page_total"]
    if plan.count_sql is None or (plan.count == "estimated" and exact <= 1000):
        return int(exact)
    explained_count = await conn.fetchval(plan.count_sql, *plan.count_params)
    return int(json.loads(explained_count)[0]["Plan"]["Plan Rows"])


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
        if message["type"] == "http.disconnect":
            raise ApiError(400, "PGRST102", "The client went away before sending the whole body")
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
