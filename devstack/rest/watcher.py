"""Keep the schema cache and the configuration current: load both at start, reload on `NOTIFY pgrst`.

`NOTIFY pgrst, 'reload schema'` (or an empty payload) reloads the schema cache; `'reload config'` rereads
the in-database configuration (`devstack.rest.config`) and then the schema cache, whose schemas may
have changed. The listener holds its own connection (as `authenticator`, like PostgREST's); when it
drops, the watcher reconnects and reloads both, since notifications sent meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from devstack.rest import config
from devstack.rest.errors import schema_cache_unavailable
from devstack.rest.schema_cache import SchemaCache, load

log = logging.getLogger("devstack.rest")

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class SchemaWatcher:
    def __init__(
        self,
        connect: Connect,
        base: config.RestConfig,
        on_reload: Callable[[], Awaitable[None]] | None = None,
        retry_seconds: float = 1.0,
    ) -> None:
        self._connect = connect
        self._on_reload = on_reload
        self._base = base
        self._retry = retry_seconds
        self._first_load_wait = 10.0
        self._cache: SchemaCache | None = None
        self._config = config.Effective(base)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._schema_requested = asyncio.Event()
        self._config_requested = False

    @property
    def config(self) -> config.Effective:
        """The configuration in force (the environment's until the database's is read)."""
        return self._config

    async def current(self) -> SchemaCache:
        """The loaded cache; waits for the first load (503 PGRST002 if the database stays away)."""
        if self._cache is None:
            try:
                await asyncio.wait_for(self._ready.wait(), self._first_load_wait)
            except TimeoutError:
                raise schema_cache_unavailable() from None
        assert self._cache is not None
        return self._cache

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rest-schema-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("schema cache connection failed, retrying: %s", exc)
            await asyncio.sleep(self._retry)

    async def _session(self) -> None:
        conn = await self._connect()
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener("pgrst", self._on_notify)
            await self._reload(conn, with_config=True)
            while not lost.is_set():
                waiters = [asyncio.ensure_future(lost.wait()), asyncio.ensure_future(self._schema_requested.wait())]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                if self._schema_requested.is_set() and not lost.is_set():
                    self._schema_requested.clear()
                    with_config, self._config_requested = self._config_requested, False
                    await self._reload(conn, with_config=with_config)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == "reload config":
            self._config_requested = True
            self._schema_requested.set()
        elif payload in ("", "reload schema"):
            self._schema_requested.set()

    async def _reload(self, conn: asyncpg.Connection, *, with_config: bool) -> None:
        first = self._cache is None
        if with_config:
            self._config = await config.load(conn, self._base)
        self._cache = await load(conn, self._config.config.schemas)
        self._ready.set()
        if not first and self._on_reload is not None:
            await self._on_reload()
        log.info("schema cache loaded", extra={"tables": len(self._cache.tables)})
