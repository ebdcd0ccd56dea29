"""The rule for child-scoped tables (docs/schema.md): every policy goes through the one membership helper,
`(select access.member_child_ids(<role>))`, evaluated once per statement, on an indexed child_id; tables a
user owns that may be about a child check membership too; so do the children's Storage buckets. The rule's
check is run on a table made to break it, so it cannot pass by finding nothing."""

from __future__ import annotations

import re
import typing

import asyncpg
import pytest

from tests.schema.conftest import World
from workers.kinds.child_files import Specialty

HELPER = "SELECT access.member_child_ids("  # as pg_policies prints the init plan
# A new child has no members yet (the trigger makes its creator the owner): its insert policy is the caller's.
EXEMPT = {("children", "Signed-in users add children")}
BUCKETS = ("child-documents", "child-videos", "child-reports")


@pytest.fixture
async def conn(world: World) -> asyncpg.Connection:
    connection = await asyncpg.connect(world.dsn)
    yield connection
    await connection.close()


async def child_columns(conn: asyncpg.Connection) -> dict[str, bool]:
    """Public tables with a child_id column, and whether it is NOT NULL (a child-scoped table's rows)."""
    rows = await conn.fetch(
        "select c.relname, a.attnotnull from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' and a.attname = 'child_id' and not a.attisdropped"
    )
    return {r["relname"]: r["attnotnull"] for r in rows}


async def violations(conn: asyncpg.Connection) -> list[str]:
    """Every way the tables break the rule."""
    columns = await child_columns(conn)
    scoped = sorted([t for t, not_null in columns.items() if not_null] + ["children"])
    problems: list[str] = []
    for table in scoped:
        key = "id" if table == "children" else "child_id"
        policies = await conn.fetch(
            "select policyname, cmd, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr "
            "from pg_policies where schemaname = 'public' and tablename = $1",
            table,
        )
        if not policies:
            problems.append(f"{table}: no policy")
        for policy in policies:
            if HELPER not in policy["expr"] and (table, policy["policyname"]) not in EXEMPT:
                problems.append(f"{table}: policy {policy['policyname']!r} does not use access.member_child_ids")
        for command in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            granted = await conn.fetchval(
                "select has_table_privilege('authenticated', $1::regclass, $2) "
                "or exists (select 1 from information_schema.column_privileges p where p.grantee = 'authenticated' "
                "and p.table_schema = 'public' and p.table_name = $3 and p.privilege_type = $2)",
                f"public.{table}", command, table,
            )  # fmt: skip
            if granted and not any(p["cmd"] in (command, "ALL") for p in policies):
                problems.append(f"{table}: {command} is granted but no policy decides it")
        if not await led_by(conn, table, key):
            problems.append(f"{table}: no index led by {key}")
    for table in sorted(t for t, not_null in columns.items() if not not_null):
        problems += await nullable_child_problems(conn, table)
    storage = await conn.fetch(
        "select policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr from pg_policies "
        "where schemaname = 'storage' and tablename = 'objects' and 'authenticated' = any(roles)"
    )
    for policy in storage:
        if any(bucket in policy["expr"] for bucket in BUCKETS) and HELPER not in policy["expr"]:
            problems.append(f"storage.objects: policy {policy['policyname']!r} does not use access.member_child_ids")
    return problems


async def nullable_child_problems(conn: asyncpg.Connection, table: str) -> list[str]:
    """A table whose rows may be about a child (a nullable child_id): a write that may name a child checks
    membership through the helper; a policy that reads by child_id goes through it, on an indexed child_id."""
    problems: list[str] = []
    policies = await conn.fetch(
        "select policyname, cmd, coalesce(qual, '') as qual, coalesce(with_check, '') as with_check "
        "from pg_policies where schemaname = 'public' and tablename = $1 order by policyname",
        table,
    )
    for command in ("INSERT", "UPDATE"):
        granted = await conn.fetchval(
            "select has_table_privilege('authenticated', $1::regclass, $2) "
            "or exists (select 1 from information_schema.column_privileges p where p.grantee = 'authenticated' "
            "and p.table_schema = 'public' and p.table_name = $3 and p.column_name = 'child_id' "
            "and p.privilege_type = $2)",
            f"public.{table}", command, table,
        )  # fmt: skip
        uses = any(p["cmd"] in (command, "ALL") and HELPER in p["qual"] + p["with_check"] for p in policies)
        if granted and not uses:
            problems.append(f"{table}: a row may name any child on {command} (no policy uses the helper)")
    for policy in policies:
        expression = policy["qual"] + " " + policy["with_check"]
        about_a_child = re.sub(r"\bchild_id IS NULL\b", "", expression)  # rows about no child decide nothing
        if re.search(r"\bchild_id\b", about_a_child) and HELPER not in expression:
            problems.append(f"{table}: policy {policy['policyname']!r} reads child_id without access.member_child_ids")
    if any(HELPER in p["qual"] for p in policies) and not await led_by(conn, table, "child_id"):
        problems.append(f"{table}: no index led by child_id")
    return problems


async def led_by(conn: asyncpg.Connection, table: str, column: str) -> bool:
    """Whether an index of the table leads with the column."""
    led: bool = await conn.fetchval(
        "select exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
        "and a.attnum = i.indkey[0] where i.indrelid = $1::regclass and a.attname = $2)",
        f"public.{table}", column,
    )  # fmt: skip
    return led


async def test_child_scoped_tables_follow_the_rule(conn: asyncpg.Connection) -> None:
    columns = await child_columns(conn)
    assert {"journal_entries", "documents", "videos", "reports", "journeys", "share_links"} <= {
        t for t, not_null in columns.items() if not_null
    }
    assert {"conversations", "checkins", "knowledge_chunks"} <= {t for t, not_null in columns.items() if not not_null}
    assert await violations(conn) == []
    # A child's knowledge chunks are read by its members, through the helper (20261209000000_child_knowledge).
    reads = await conn.fetch(
        "select qual from pg_policies where schemaname = 'public' and tablename = 'knowledge_chunks' "
        "and cmd = 'SELECT' and 'authenticated' = any(roles) and qual like '%child_id = ANY%'"
    )
    assert [HELPER in r["qual"] for r in reads] == [True]


class _Rollback(Exception):
    pass


async def test_the_rule_catches_a_table_that_breaks_it(conn: asyncpg.Connection) -> None:
    """A copied join instead of the helper, an insert granted with no policy, child_id not indexed; on a table
    whose rows may be about a child, a read by child_id without the helper and an unchecked insert."""
    try:
        async with conn.transaction():
            await conn.execute("set local role postgres")  # as a migration runs
            await conn.execute(
                "create table public.probe_child_notes (id uuid primary key, child_id uuid not null "
                "references public.children (id)); "
                "alter table public.probe_child_notes enable row level security; "
                'create policy "Members read notes" on public.probe_child_notes for select to authenticated '
                "using (child_id in (select m.child_id from public.child_members m "
                "where m.user_id = (select auth.uid()))); "
                "grant select, insert on public.probe_child_notes to authenticated; "
                "create table public.probe_child_chunks (id uuid primary key, owner_id uuid, child_id uuid); "
                "alter table public.probe_child_chunks enable row level security; "
                'create policy "Owners read chunks" on public.probe_child_chunks for select to authenticated '
                "using (owner_id = (select auth.uid()) or child_id is null); "
                'create policy "Members read chunks" on public.probe_child_chunks for select to authenticated '
                "using (child_id in (select m.child_id from public.child_members m "
                "where m.user_id = (select auth.uid()))); "
                "grant select, insert on public.probe_child_chunks to authenticated"
            )
            found = [p for p in await violations(conn) if "probe_child" in p]
            raise _Rollback
    except _Rollback:
        pass
    assert found == [
        "probe_child_notes: policy 'Members read notes' does not use access.member_child_ids",
        "probe_child_notes: INSERT is granted but no policy decides it",
        "probe_child_notes: no index led by child_id",
        "probe_child_chunks: a row may name any child on INSERT (no policy uses the helper)",
        "probe_child_chunks: policy 'Members read chunks' reads child_id without access.member_child_ids",
    ]


async def test_specialties_are_one_vocabulary(conn: asyncpg.Connection) -> None:
    assert await conn.fetchval("select internal.specialties()") == list(typing.get_args(Specialty))
