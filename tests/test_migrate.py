"""The migration runner applies, records and reports like `supabase db reset`, as non-superuser postgres."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from devstack import migrate
from devstack.db import role_dsn
from tests.conftest import PASSWORD


def _write(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(sql)


async def _recorded(dsn: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("select version, name from supabase_migrations.schema_migrations order by version")
        return [(r["version"], r["name"]) for r in rows]
    finally:
        await conn.close()


async def test_applies_in_filename_order_and_records_versions(fresh_db: str, tmp_path: Path) -> None:
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    # Written out of order on purpose: the second depends on the first.
    _write(tmp_path, "20250102000000_add_body.sql", "alter table public.notes add column body text;")
    _write(tmp_path, "20250101000000_create_notes.sql", "create table public.notes (id int primary key);")

    applied = await migrate.apply_migrations(postgres, tmp_path)

    assert [m.name for m in applied] == ["create_notes", "add_body"]
    assert await _recorded(postgres) == [("20250101000000", "create_notes"), ("20250102000000", "add_body")]
    assert await migrate.apply_migrations(postgres, tmp_path) == []  # nothing pending on a second run


async def test_records_statements(fresh_db: str, tmp_path: Path) -> None:
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    sql = "create table public.a (id int);\n"
    _write(tmp_path, "20250101000000_a.sql", sql)
    await migrate.apply_migrations(postgres, tmp_path)
    conn = await asyncpg.connect(postgres)
    try:
        assert await conn.fetchval("select statements from supabase_migrations.schema_migrations") == [sql]
    finally:
        await conn.close()


async def test_broken_migration_is_reported_with_file_and_line(fresh_db: str, tmp_path: Path) -> None:
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    _write(tmp_path, "20250101000000_ok.sql", "create table public.ok (id int);")
    _write(
        tmp_path,
        "20250102000000_broken.sql",
        "create table public.half (id int);\n\nselect * from public.missing_table;\n",
    )
    _write(tmp_path, "20250103000000_after.sql", "create table public.after (id int);")

    with pytest.raises(migrate.MigrationError) as info:
        await migrate.apply_migrations(postgres, tmp_path)

    message = str(info.value)
    assert message.startswith("20250102000000_broken.sql, line 3: ERROR 42P01:")
    assert 'relation "public.missing_table" does not exist' in message
    assert await _recorded(postgres) == [("20250101000000", "ok")]
    conn = await asyncpg.connect(postgres)
    try:  # the failed file left nothing behind, and nothing after it ran
        assert await conn.fetchval("select to_regclass('public.half')") is None
        assert await conn.fetchval("select to_regclass('public.after')") is None
    finally:
        await conn.close()


async def test_migrations_run_without_superuser(fresh_db: str, tmp_path: Path) -> None:
    """What breaks on hosted Supabase must break here too."""
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    _write(
        tmp_path,
        "20250101000000_event_trigger.sql",
        "create function public.on_ddl() returns event_trigger language plpgsql as 'begin end';\n"
        "create event trigger audit_ddl on ddl_command_end execute function public.on_ddl();",
    )
    with pytest.raises(migrate.MigrationError) as info:
        await migrate.apply_migrations(postgres, tmp_path)
    assert info.value.sqlstate == "42501"


async def test_what_supabase_lets_migrations_do(fresh_db: str, tmp_path: Path) -> None:
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    _write(
        tmp_path,
        "20250101000000_platform_uses.sql",
        """
        create extension if not exists vector with schema extensions;
        create table public.profiles (id uuid primary key references auth.users (id) on delete cascade,
                                      embedding extensions.vector(3));
        create function public.handle_new_user() returns trigger language plpgsql security definer
          set search_path = '' as $$
        begin insert into public.profiles (id) values (new.id); return new; end $$;
        create trigger on_auth_user_created after insert on auth.users
          for each row execute function public.handle_new_user();
        alter publication supabase_realtime add table public.profiles;
        create policy "Members read their topics" on realtime.messages for select to authenticated
          using (realtime.topic() = 'user:' || (select auth.uid())::text);
        insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
        create policy "Avatars are readable by anyone" on storage.objects for select to anon
          using (bucket_id = 'avatars');
        """,
    )
    await migrate.apply_migrations(postgres, tmp_path)
    conn = await asyncpg.connect(postgres)
    try:
        await conn.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'p@example.com')")
        assert await conn.fetchval("select count(*) from public.profiles") == 1
    finally:
        await conn.close()


async def test_extensions_come_from_migrations_as_on_supabase(fresh_db: str, tmp_path: Path) -> None:
    """pgvector is not there until a migration asks for it; `postgres` may create it (supautils' privileged
    extensions) and is no superuser before, after, or when the statement fails."""
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    _write(tmp_path, "20250101000000_uses_vector.sql", "create table public.items (embedding extensions.vector(3));")
    with pytest.raises(migrate.MigrationError) as info:
        await migrate.apply_migrations(postgres, tmp_path)
    assert info.value.sqlstate == "42704"  # type "extensions.vector" does not exist
    conn = await asyncpg.connect(postgres)
    try:
        with pytest.raises(asyncpg.InvalidSchemaNameError):
            await conn.execute("create extension vector with schema no_such_schema")
        assert not await conn.fetchval("select rolsuper from pg_roles where rolname = 'postgres'")
    finally:
        await conn.close()
    _write(
        tmp_path,
        "20250101000000_uses_vector.sql",
        "create extension if not exists vector with schema extensions;\n"
        "create extension if not exists vector with schema extensions;\n"
        "create table public.items (embedding extensions.vector(3));",
    )
    await migrate.apply_migrations(postgres, tmp_path)
    conn = await asyncpg.connect(postgres)
    try:
        assert not await conn.fetchval("select rolsuper from pg_roles where rolname = 'postgres'")
        assert await conn.fetchval("select extversion from pg_extension where extname = 'vector'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("alter role postgres superuser")
    finally:
        await conn.close()


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "create_things.sql", "select 1;")
    with pytest.raises(ValueError, match=r"<timestamp>_<name>\.sql"):
        migrate.discover(tmp_path)


def test_project_migrations_are_well_named() -> None:
    from devstack.settings import REPO_ROOT

    for migration in migrate.discover(REPO_ROOT / "supabase" / "migrations"):
        assert len(migration.version) == 14, f"{migration.path.name}: use a YYYYMMDDHHMMSS timestamp"
        assert migration.name == migration.name.lower(), f"{migration.path.name}: use snake_case"


@pytest.mark.parametrize("seed", ["", "\n\n", "-- no seed data yet\n", "/* later */ ;\n"])
async def test_empty_seed_is_skipped(fresh_db: str, tmp_path: Path, seed: str) -> None:
    """`make db-reset` with an empty seed.sql (asyncpg fails on an empty query string)."""
    (tmp_path / "seed.sql").write_text(seed)
    assert await migrate.seed(role_dsn(fresh_db, "postgres", PASSWORD), tmp_path / "seed.sql")


async def test_seed_runs_as_postgres(fresh_db: str, tmp_path: Path) -> None:
    (tmp_path / "seed.sql").write_text("-- a comment first\ncreate table public.seeded as select current_user as who;")
    postgres = role_dsn(fresh_db, "postgres", PASSWORD)
    assert await migrate.seed(postgres, tmp_path / "seed.sql")
    conn = await asyncpg.connect(postgres)
    try:
        assert await conn.fetchval("select who from public.seeded") == "postgres"
    finally:
        await conn.close()
