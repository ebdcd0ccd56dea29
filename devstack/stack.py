"""The local stack as one object: Postgres (embedded or DATABASE_URL), migrations, seed, gateway."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
import uvicorn

from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import EmbeddedPostgres
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack")


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
            ("DB URL", self.postgres_dsn),
            ("JWT secret", s.jwt_secret.get_secret_value()),
            ("anon key", s.anon_key),
            ("service_role key", s.service_role_key),
            ("Publishable key", s.publishable_key),
            ("Secret key", s.secret_key),
        ]
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:>{width}}: {value}" for label, value in rows)


def gateway_server(settings: DevstackSettings, superuser_dsn: str) -> uvicorn.Server:
    from devstack.gateway import create_app

    config = uvicorn.Config(
        create_app(settings, superuser_dsn),
        host=settings.host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        ws_max_size=16 * 1024 * 1024,
        limit_concurrency=2000,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


async def serve_gateway(settings: DevstackSettings, superuser_dsn: str) -> None:
    server = gateway_server(settings, superuser_dsn)
    await server.serve()
    if not server.started:
        raise RuntimeError(f"the gateway could not listen on {settings.host}:{settings.api_port}")
