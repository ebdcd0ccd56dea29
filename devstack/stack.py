"""The local stack as one object: Postgres (embedded or DATABASE_URL), migrations, seed, gateway."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import uvicorn

from devstack import migrate
from devstack.db import role_dsn
from devstack.mail import Mailbox, create_mail_app
from devstack.postgres import EmbeddedPostgres
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack")


class DevstackError(RuntimeError):
    """What stops the local stack from starting, said as what to do about it."""


class StackBusy(DevstackError):
    """Another `python -m devstack up` is running on this data directory: `pid` (0 if it did not say)."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"the devstack is running (pid {pid})")
        self.pid = pid


@dataclass
class LocalStack:
    settings: DevstackSettings
    postgres: EmbeddedPostgres | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.settings.database_url is None:
            self.postgres = EmbeddedPostgres(
                pgdata=self.settings.pgdata,
                port=self.settings.db_port,
                password=self.settings.db_password.get_secret_value(),
                host=self.settings.host,
            )

    @property
    def superuser_dsn(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url
        assert self.postgres is not None
        return self.postgres.dsn()

    @property
    def postgres_dsn(self) -> str:
        """What the CLI prints as DB URL: the non-superuser `postgres` role migrations run as."""
        return role_dsn(self.superuser_dsn, "postgres", self.settings.db_password.get_secret_value())

    @property
    def lock_file(self) -> Path:
        return self.settings.data_dir / "devstack.lock"

    @contextlib.contextmanager
    def owned(self) -> Iterator[None]:
        """Hold the data directory for this process (its Postgres started and stopped by it), so that another
        `up`, `migrate` or `db-reset` does not stop or delete the database under a running stack (StackBusy
        with the holder's pid). The lock is the kernel's: it ends with the process, however it ends."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip()
                raise StackBusy(int(holder) if holder.isdigit() else 0) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            try:
                yield
            finally:
                lock.seek(0)
                lock.truncate()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def start_database(self) -> None:
        if self.postgres is not None:
            self.postgres.start()

    def stop_database(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()

    def destroy_database(self) -> None:
        if self.postgres is None:
            raise RuntimeError("db-reset only manages the embedded Postgres; with DATABASE_URL drop it yourself")
        self.postgres.destroy()

    async def prepare(self) -> None:
        """Bring the database up to date: reset when new; else re-bootstrap and apply pending migrations."""
        password = self.settings.db_password.get_secret_value()
        if await self._is_fresh():
            log.info("new database: applying bootstrap, migrations and seed")
            applied = await migrate.reset(self.superuser_dsn, password, self.settings.supabase_dir)
        else:
            await migrate.bootstrap(self.superuser_dsn, password)
            applied = await migrate.apply_migrations(self.postgres_dsn, self.settings.supabase_dir / "migrations")
        if applied:  # a gateway already serving this database reloads its schema cache, as PostgREST does
            conn = await asyncpg.connect(self.superuser_dsn)
            try:
                await conn.execute("notify pgrst, 'reload schema'")
            finally:
                await conn.close()
        log.info("database ready", extra={"migrations_applied": len(applied)})

    async def _is_fresh(self) -> bool:
        conn = await asyncpg.connect(self.superuser_dsn)
        try:
            return bool(await conn.fetchval("select to_regclass('supabase_migrations.schema_migrations') is null"))
        finally:
            await conn.close()

    def status(self) -> str:
        s = self.settings
        rows = [
            ("API URL", s.api_url),
            ("REST URL", f"{s.api_url}/rest/v1"),
            ("Auth URL", f"{s.api_url}/auth/v1"),
            ("Storage URL", f"{s.api_url}/storage/v1"),
            ("DB URL", self.postgres_dsn),
            ("Mailpit URL", s.mail_url if s.mail_port else "off"),
            ("JWT secret", s.jwt_secret.get_secret_value()),
            ("anon key", s.anon_key),
            ("service_role key", s.service_role_key),
            ("Publishable key", s.publishable_key),
            ("Secret key", s.secret_key),
        ]
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:>{width}}: {value}" for label, value in rows)


class GatewayServer(uvicorn.Server):
    """uvicorn's server, with work to do before it stops serving: the workers' own shutdown (finishing or
    releasing their jobs) goes through the API, so they stop first."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.before_shutdown: list[Callable[[], Awaitable[None]]] = []

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for hook in self.before_shutdown:
            await hook()
        await super().shutdown(sockets)


class MailServer(uvicorn.Server):
    """The mail catcher's HTTP server: runs beside the gateway, which owns the process's signals."""

    runner: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def worker_metrics_port(index: int) -> int:
    """The metrics port of the devstack's worker `index`: COACHBASE_METRICS_PORT (9464) + index; 0: none."""
    base = int(os.environ.get("COACHBASE_METRICS_PORT", "9464"))
    return base + index if base else 0


async def serve_mail(settings: DevstackSettings, mailbox: Mailbox) -> MailServer:
    """Start the mail catcher on `settings.mail_port` (Mailpit's API); the caller stops it (`should_exit`).

    A port already taken (say, by a Mailpit of your own) is logged, not fatal: Auth still works."""
    config = uvicorn.Config(
        create_mail_app(mailbox), host=settings.host, port=settings.mail_port, log_config=None, access_log=False
    )
    server = MailServer(config)

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits the process when it cannot bind
            log.warning("the mail catcher could not listen; emails are not readable", extra={"port": config.port})

    task = server.runner = asyncio.create_task(run())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    return server


def gateway_server(settings: DevstackSettings, superuser_dsn: str, mailbox: Mailbox | None = None) -> GatewayServer:
    from devstack.connections import ConnectionGuard, Limits, protocols
    from devstack.gateway import create_app

    guard = ConnectionGuard(
        Limits(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=settings.max_connections,
            max_pending_per_client=settings.max_pending_per_client,
            trusted_keys=frozenset({settings.service_role_key, settings.secret_key}),
        )
    )
    http, ws = protocols(guard)
    config = uvicorn.Config(
        create_app(settings, superuser_dsn, mailbox),
        http=http,
        ws=ws,
        host=settings.host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        ws_max_size=16 * 1024 * 1024,
        # As the Realtime server (Phoenix sockets without `compress`): no permessage-deflate. Compressing
        # every small frame cost the gateway and each client CPU for nothing on a local link.
        ws_per_message_deflate=False,
        # No limit_concurrency: it answers 503 to everyone once reached, so one client holding connections
        # starved all the others. devstack/connections.py bounds connections per client instead.
        # Longer than clients' own idle expiry (httpx: 5 s; uvicorn's default is also 5 s): otherwise a
        # client can reuse a pooled connection in the instant the server closes it and get a ReadError.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=5,
    )
    return GatewayServer(config)


async def serve_gateway(settings: DevstackSettings, superuser_dsn: str, *, workers: int = 0, banner: str = "") -> None:
    """Serve the gateway (and the mail catcher) until interrupted; once it listens, print `banner` and start
    `workers` workers."""
    mailbox = Mailbox()
    mail = await serve_mail(settings, mailbox) if settings.mail_port else None
    server = gateway_server(settings, superuser_dsn, mailbox)
    supervisor: asyncio.Task[None] | None = None

    async def serve() -> None:
        # uvicorn exits the process when it cannot bind, which a task cannot catch once it is raised out of
        # it (asyncio hands SystemExit to the loop): caught here, the port's owner is named below instead.
        with contextlib.suppress(SystemExit):
            await server.serve()

    async def stop_workers() -> None:
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)

    serving = asyncio.create_task(serve())
    try:
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.05)
        if not server.started:
            await serving
            raise DevstackError(
                f"the API could not listen on {settings.host}:{settings.api_port}: another program uses that port"
                " (a `supabase start`?); stop it, or set DEVSTACK_API_PORT"
            )
        if banner:
            print(banner, flush=True)
        if workers:
            supervisor = asyncio.create_task(supervise_workers(settings, workers, lambda: server.should_exit))
        server.before_shutdown.append(stop_workers)
        await serving
    finally:
        await stop_workers()
        if mail is not None and mail.runner is not None:
            mail.should_exit = True
            await mail.runner


async def supervise_workers(
    settings: DevstackSettings, count: int, stopping: Callable[[], bool] = lambda: False
) -> None:
    """Run `python -m workers` processes against the gateway, restarting any that exits, until cancelled.

    Cancelled, it stops them (SIGTERM: each finishes or releases its jobs) and waits. A worker that exits
    once `stopping()` is true is not restarted: Ctrl-C in the terminal reaches the workers too (they share
    its process group, so closing the terminal also ends them), and they may exit before the devstack
    gets to stop them."""
    env = {
        **os.environ,
        "SUPABASE_URL": settings.api_url,
        "SUPABASE_SERVICE_ROLE_KEY": settings.service_role_key,
        "COACHBASE_LOG_FORMAT": os.environ.get("COACHBASE_LOG_FORMAT", "text"),
        "COACHBASE_PARENT_PID": str(os.getpid()),  # killed outright, the devstack takes its workers along
    }
    procs: dict[int, asyncio.subprocess.Process] = {}

    async def keep_running(index: int) -> None:
        delay = 1.0
        while True:
            worker_env = {
                **env,
                "COACHBASE_WORKER_ID": f"devstack-worker-{index}",
                "COACHBASE_METRICS_PORT": str(worker_metrics_port(index)),
            }
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "workers", env=worker_env)
            procs[index] = proc
            started = time.monotonic()
            code = await proc.wait()
            if stopping():
                log.info("worker stopped with the devstack", extra={"worker": index, "code": code})
                return
            log.warning("worker exited; restarting", extra={"worker": index, "code": code, "in_seconds": delay})
            delay = 1.0 if time.monotonic() - started > 30 else min(delay * 2, 30.0)
            await asyncio.sleep(delay)

    tasks = [asyncio.create_task(keep_running(i)) for i in range(count)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        running = [proc for proc in procs.values() if proc.returncode is None]
        if running:
            log.info("stopping workers", extra={"count": len(running)})
        for proc in running:
            proc.terminate()
        await asyncio.gather(*(p.wait() for p in procs.values()), return_exceptions=True)
