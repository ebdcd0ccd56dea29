"""`make types`: the TypeScript types `supabase gen types typescript --local` writes, by the same generator.

The Supabase CLI runs postgres-meta's typegen (the `@supabase/postgres-meta` npm package) against the
local database; here it runs against a scratch Postgres holding the platform bootstrap and the project's
migrations (never the dev database's drift), for the exposed schemas of config.toml's `[api] schemas`,
and writes `types/database.types.ts`, the file frontends import. `--check` compares instead of writing
(CI: the committed file must match the migrations).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import uuid
from pathlib import Path

import asyncpg

from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.settings import DEMO_DB_PASSWORD, REPO_ROOT
from shared import logs

log = logging.getLogger("devstack.typegen")

TYPES_DIR = REPO_ROOT / "types"
OUTPUT = TYPES_DIR / "database.types.ts"
GENERATOR = TYPES_DIR / "node_modules" / "@supabase" / "postgres-meta" / "dist" / "server" / "server.js"
STALE = "{path} does not match the migrations: run `make types` and commit the result"


def exposed_schemas(supabase_dir: Path) -> list[str]:
    config = supabase_dir / "config.toml"
    data = tomllib.loads(config.read_text()) if config.is_file() else {}
    return list(data.get("api", {}).get("schemas", ["public"]))


def run_generator(dsn: str, schemas: list[str]) -> str:
    """postgres-meta's typegen (what the CLI runs in its container), printing the types on stdout."""
    node = shutil.which("node")
    if node is None or not GENERATOR.is_file():
        raise SystemExit("`make types` needs Node.js and types/node_modules (the Makefile installs them)")
    env = {
        **os.environ,
        "PG_META_DB_URL": dsn,
        "PG_META_GENERATE_TYPES": "typescript",
        "PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS": ",".join(schemas),
        "PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS": "true",
    }
    result = subprocess.run([node, str(GENERATOR)], env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise SystemExit(f"postgres-meta failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


async def _schemas_present(dsn: str, wanted: list[str]) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        present = {r["nspname"] for r in await conn.fetch("select nspname from pg_namespace")}
    finally:
        await conn.close()
    return [s for s in wanted if s in present]


async def _migrated(superuser_dsn: str, supabase_dir: Path) -> None:
    await migrate.bootstrap(superuser_dsn, DEMO_DB_PASSWORD)
    await migrate.apply_migrations(role_dsn(superuser_dsn, "postgres", DEMO_DB_PASSWORD), supabase_dir / "migrations")


async def _with_database(server_dsn: str, name: str, create: bool) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'create database "{name}"' if create else f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def generate(supabase_dir: Path, server_dsn: str | None = None) -> str:
    """The types of a scratch database migrated from `supabase_dir`, made on `server_dsn`'s server (a
    superuser DSN; default DATABASE_URL, else a temporary embedded Postgres)."""
    external = server_dsn or os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="coachbase-types-") as scratch:
        server: EmbeddedPostgres | None = None
        if external is None:
            server = EmbeddedPostgres(Path(scratch) / "pgdata", free_port(), DEMO_DB_PASSWORD)
            server.start()
        server_dsn = external or (server.dsn() if server else "")
        name = f"coachbase_types_{uuid.uuid4().hex[:8]}"
        dsn = server_dsn.rsplit("/", 1)[0] + f"/{name}"
        try:
            asyncio.run(_with_database(server_dsn, name, create=True))
            asyncio.run(_migrated(dsn, supabase_dir))
            schemas = asyncio.run(_schemas_present(dsn, exposed_schemas(supabase_dir)))
            return run_generator(dsn, schemas)
        finally:
            asyncio.run(_with_database(server_dsn, name, create=False))
            if server is not None:
                server.stop("immediate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.typegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    logs.setup("WARNING", "text")
    types = generate(REPO_ROOT / "supabase")
    if args.check:
        if not args.output.is_file() or args.output.read_text() != types:
            print(STALE.format(path=args.output.relative_to(REPO_ROOT)), file=sys.stderr)
            return 1
        print(f"{args.output.relative_to(REPO_ROOT)} is current")
        return 0
    args.output.write_text(types)
    print(f"wrote {args.output.relative_to(REPO_ROOT)} ({types.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
