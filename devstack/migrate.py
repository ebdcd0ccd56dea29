"""Migration runner with the semantics of `supabase db reset`.

Order: the platform bootstrap (devstack/platform.sql, as the superuser `supabase_admin`), then
`supabase/migrations/*.sql` in filename order, then `supabase/seed.sql` — both as the NON-superuser
`postgres`, as the Supabase CLI runs them. Each migration runs in its own transaction together with its
row in `supabase_migrations.schema_migrations`, so a failed file leaves nothing half-applied.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from devstack.db import role_dsn

log = logging.getLogger("devstack.migrate")

PLATFORM_SQL = Path(__file__).with_name("platform.sql")
MIGRATION_NAME = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.sql$")
LOGIN_ROLES = (
    "postgres",
    "authenticator",
    "supabase_auth_admin",
    "supabase_storage_admin",
    "supabase_replication_admin",
    "supabase_read_only_user",
)


class MigrationError(RuntimeError):
    """A SQL file failed: names the file, the line and Postgres's own error."""

    def __init__(self, path: Path, error: asyncpg.PostgresError, sql: str) -> None:
        line = _error_line(error, sql)
        where = f"{path.name}" + (f", line {line}" if line else "")
        detail = "".join(
            f"\n  {label}: {value}"
            for label, value in (("detail", error.detail), ("hint", error.hint), ("context", error.context))
            if value
        )
        super().__init__(f"{where}: ERROR {error.sqlstate}: {error.message}{detail}")
        self.path = path
        self.sqlstate = error.sqlstate


@dataclass(frozen=True)
class Migration:
    path: Path
    version: str
    name: str

    @classmethod
    def from_path(cls, path: Path) -> Migration:
        match = MIGRATION_NAME.match(path.name)
        if match is None:
            raise ValueError(
                f"{path.name}: migration files must be named <timestamp>_<name>.sql "
                "(e.g. 20250101000000_create_profiles.sql)"
            )
        return cls(path, match["version"], match["name"])


def discover(migrations_dir: Path) -> list[Migration]:
    """Migration files in the order the CLI applies them (by filename)."""
    if not migrations_dir.is_dir():
        return []
    migrations = [Migration.from_path(p) for p in sorted(migrations_dir.glob("*.sql"))]
    versions = [m.version for m in migrations]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise ValueError(f"duplicate migration versions: {', '.join(duplicates)}")
    return migrations


async def bootstrap(superuser_dsn: str, password: str) -> None:
    """Apply the platform bootstrap and give the login roles the local password."""
    conn = await asyncpg.connect(superuser_dsn)
    try:
        user = await conn.fetchval("select current_user")
        if user == "postgres":
            raise RuntimeError(
                "the bootstrap must connect as a superuser other than `postgres`: it demotes `postgres` "
                "to a non-superuser as Supabase does. Create one (e.g. supabase_admin) and use it in DATABASE_URL."
            )
        sql = PLATFORM_SQL.read_text()
        try:
            async with conn.transaction():
                await conn.execute(sql)
                for role in LOGIN_ROLES:
                    # Role names are constants; the password is a literal only the local stack uses.
                    await conn.execute(f"alter role {role} password {_literal(password)}")
        except asyncpg.PostgresError as exc:
            raise MigrationError(PLATFORM_SQL, exc, sql) from exc
    finally:
        await conn.close()
    log.info("platform bootstrap applied")


async def pending(postgres_dsn: str, migrations_dir: Path) -> list[Migration]:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        applied = {r["version"] for r in await conn.fetch("select version from supabase_migrations.schema_migrations")}
    finally:
        await conn.close()
    return [m for m in discover(migrations_dir) if m.version not in applied]


async def apply_migrations(postgres_dsn: str, migrations_dir: Path) -> list[Migration]:
    """Apply every migration not yet recorded, as `postgres`; returns what was applied."""
    todo = await pending(postgres_dsn, migrations_dir)
    conn = await asyncpg.connect(postgres_dsn)
    try:
        for migration in todo:
            sql = migration.path.read_text()
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, statements, name) "
                        "values ($1, $2, $3)",
                        migration.version,
                        [sql],
                        migration.name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(migration.path, exc, sql) from exc
            log.info("migration applied", extra={"version": migration.version, "migration": migration.name})
        if todo:
            # Tell PostgREST-compatible services to reload their schema cache.
            await conn.execute("notify pgrst, 'reload schema'")
    finally:
        await conn.close()
    return todo


async def seed(postgres_dsn: str, seed_file: Path) -> bool:
    """Run supabase/seed.sql as `postgres` in one transaction; False when there is no seed file."""
    if not seed_file.is_file():
        return False
    sql = seed_file.read_text()
    if not _has_statements(sql):  # an empty (or comments-only) seed is valid: `supabase db reset` skips it
        log.info("seed is empty", extra={"file": str(seed_file)})
        return True
    conn = await asyncpg.connect(postgres_dsn)
    try:
        async with conn.transaction():
            await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        raise MigrationError(seed_file, exc, sql) from exc
    finally:
        await conn.close()
    log.info("seed applied", extra={"file": str(seed_file)})
    return True


async def reset(superuser_dsn: str, password: str, supabase_dir: Path) -> list[Migration]:
    """`supabase db reset` on an empty database: bootstrap, migrations, seed."""
    await bootstrap(superuser_dsn, password)
    postgres_dsn = role_dsn(superuser_dsn, "postgres", password)
    applied = await apply_migrations(postgres_dsn, supabase_dir / "migrations")
    await seed(postgres_dsn, supabase_dir / "seed.sql")
    return applied


def _has_statements(sql: str) -> bool:
    """Whether `sql` holds anything but whitespace, `--` comments and `/* */` comments."""
    without_blocks = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    without_lines = re.sub(r"--[^\n]*", " ", without_blocks)
    return bool(without_lines.replace(";", " ").strip())


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _error_line(error: asyncpg.PostgresError, sql: str) -> int | None:
    position = getattr(error, "position", None)
    try:
        offset = int(position) if position else 0
    except ValueError:
        return None
    if offset <= 0:
        return None
    return sql[: offset - 1].count("\n") + 1
