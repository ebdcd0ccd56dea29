"""Catalog checks: properties every table, policy and function must have, whoever adds them later."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.schema.acting import acting, user
from tests.schema.conftest import World

EXPOSED_SCHEMAS = ["public", "graphql_public"]
PROJECT_SCHEMAS = ["public", "internal"]
# Functions a signed-in user may call over the API; every other RPC is for workers (service_role).
USER_RPCS = {
    "forget_fact(uuid)",  # forget a fact of the AI's memory (issue 7)
    "usage_status()",  # limits (issue 17)
    "child_member_names(uuid)",  # who shares a child, by display name (issue 19)
    # sharing a child, finding experts, share links (issue 19)
    "invite_child_member(uuid,text,child_member_role,integer)",
    "accept_child_invitation(text)",
    "find_experts(uuid,double precision,double precision,integer)",
    "create_share_link(uuid,uuid,uuid[],uuid,integer,text)",
    "open_share_link(text)",
    # issue 20: search under the caller's RLS (a child's chunks for its members: p_child_id)
    "search_knowledge(text,vector,integer,text[],boolean,text,uuid)",
}
ANON_RPCS = {"open_share_link(text)"}  # issue 19: a share link is opened without an account
REALTIME_TABLES = {
    "public.messages", "public.checkins", "public.recommendations", "public.user_summaries",
    "public.notes", "public.tasks", "public.reflections", "public.note_scans",
}  # fmt: skip


@pytest.fixture
async def conn(world: World) -> asyncpg.Connection:
    connection = await asyncpg.connect(world.dsn)
    yield connection
    await connection.close()


async def test_every_exposed_table_has_rls_and_a_policy(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        select n.nspname || '.' || c.relname as name, c.relrowsecurity as rls,
               (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = any($1) and c.relkind in ('r', 'p')
        """,
        EXPOSED_SCHEMAS,
    )
    assert rows, "no tables found"
    assert [r["name"] for r in rows if not r["rls"]] == [], "RLS disabled"
    assert [r["name"] for r in rows if r["policies"] == 0] == [], "no policy"


async def test_no_views_or_matviews_in_exposed_schemas_bypass_rls(conn: asyncpg.Connection) -> None:
    """A view runs as its owner unless security_invoker: it would bypass the tables' RLS."""
    rows = await conn.fetch(
        """
        select n.nspname || '.' || c.relname as name
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = any($1) and c.relkind in ('v', 'm')
           and not coalesce('security_invoker=true' = any(c.reloptions), false)
           and (has_table_privilege('anon', c.oid, 'select') or has_table_privilege('authenticated', c.oid, 'select'))
        """,
        EXPOSED_SCHEMAS,
    )
    assert [r["name"] for r in rows] == []


async def test_internal_tables_have_rls_enabled(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'internal' and c.relkind in ('r', 'p') and not c.relrowsecurity"
    )
    assert [r["relname"] for r in rows] == []


async def test_policies_name_their_role_and_wrap_auth_uid(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "select schemaname || '.' || tablename || ': ' || policyname as name, roles, "
        "coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr "
        "from pg_policies where schemaname = any($1)",
        PROJECT_SCHEMAS,
    )
    assert rows
    for row in rows:
        assert "public" not in row["roles"], f"{row['name']}: name the role (to authenticated, ...)"
        bare = row["expr"].count("auth.uid()") - row["expr"].count("SELECT auth.uid()")
        assert bare == 0, f"{row['name']}: use (select auth.uid()) so it is evaluated once per statement"


async def test_columns_policies_filter_by_are_indexed(conn: asyncpg.Connection) -> None:
    policies = await conn.fetch(
        "select tablename, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr "
        "from pg_policies where schemaname = 'public'"
    )
    indexed = await conn.fetch(
        """
        select t.relname as tablename, a.attname as column
          from pg_index i
          join pg_class t on t.oid = i.indrelid
          join pg_namespace n on n.oid = t.relnamespace
          join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0]
         where n.nspname = 'public'
        """
    )
    leading = {(r["tablename"], r["column"]) for r in indexed}
    for policy in policies:
        columns = set(re.findall(r"\(?(\w+) = \( SELECT auth\.uid\(\)", policy["expr"]))
        columns |= set(re.findall(r"(?<![.\w])(is_active)\b", policy["expr"]))
        for column in columns:
            assert (policy["tablename"], column) in leading, f"index {policy['tablename']}.{column}"


async def test_security_definer_functions_fix_their_search_path(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        select p.oid::regprocedure::text as name, p.proconfig
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
        """
    )
    assert rows, "expected the sign-up trigger at least"
    missing = [r["name"] for r in rows if 'search_path=""' not in (r["proconfig"] or [])]
    assert missing == [], "security definer functions need `set search_path = ''`"


async def test_project_functions_all_fix_their_search_path(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        select p.oid::regprocedure::text as name
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = any($1) and p.prokind = 'f'
           and not coalesce('search_path=""' = any(p.proconfig), false)
        """,
        PROJECT_SCHEMAS,
    )
    assert [r["name"] for r in rows] == []


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_cannot_execute_project_functions(conn: asyncpg.Connection, role: str) -> None:
    rows = await conn.fetch(
        """
        select p.oid::regprocedure::text as name
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = any($1) and has_function_privilege($2, p.oid, 'execute')
        """,
        PROJECT_SCHEMAS,
        role,
    )
    assert {r["name"] for r in rows} <= (USER_RPCS if role == "authenticated" else ANON_RPCS)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_have_nothing_in_internal(conn: asyncpg.Connection, role: str) -> None:
    assert not await conn.fetchval("select has_schema_privilege($1, 'internal', 'usage')", role)
    rows = await conn.fetch(
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'internal' and c.relkind in ('r', 'p', 'v', 'm')
           and (has_table_privilege($1, c.oid, 'select') or has_table_privilege($1, c.oid, 'insert')
                or has_table_privilege($1, c.oid, 'update') or has_table_privilege($1, c.oid, 'delete'))
        """,
        role,
    )
    assert [r["relname"] for r in rows] == []


@pytest.mark.parametrize(
    "relation",
    [
        "internal.prompts",
        "internal.prompt_versions",
        "internal.prompt_assignments",
        "internal.category_guidelines",
        "internal.settings",
        "internal.active_prompts",
        "internal.category_catalogue",
    ],
)
async def test_signed_in_user_cannot_read_operator_content(world: World, relation: str) -> None:
    async with acting(world.dsn, user(world.owner)) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(f"select * from {relation}")


async def test_anon_has_no_privileges_on_public_tables_but_the_crisis_lines(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
           and (has_table_privilege('anon', c.oid, 'select') or has_table_privilege('anon', c.oid, 'insert')
                or has_table_privilege('anon', c.oid, 'update') or has_table_privilege('anon', c.oid, 'delete'))
        """
    )
    # crisis_resources only: an app shows the crisis lines on a help page before anyone signs in.
    assert [r["relname"] for r in rows] == ["crisis_resources"]
    assert not await conn.fetchval(
        "select has_table_privilege('anon', 'public.crisis_resources', 'insert') "
        "or has_table_privilege('anon', 'public.crisis_resources', 'update') "
        "or has_table_privilege('anon', 'public.crisis_resources', 'delete')"
    )


async def test_default_privileges_grant_nothing_to_api_roles(conn: asyncpg.Connection) -> None:
    """Objects created by later migrations start with no grants to anon/authenticated (fail closed)."""
    await conn.execute("set role postgres")
    try:
        async with conn.transaction():
            await conn.execute(
                "create table public.default_privileges_probe (id int); "
                "create function public.default_privileges_probe() returns int language sql as 'select 1'"
            )
            for role in ("anon", "authenticated"):
                assert not await conn.fetchval(
                    "select has_table_privilege($1, 'public.default_privileges_probe', 'select')", role
                )
                assert not await conn.fetchval(
                    "select has_function_privilege($1, 'public.default_privileges_probe()', 'execute')", role
                )
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.execute("reset role")


class _Rollback(Exception):
    pass


async def test_tables_columns_and_types_are_documented(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        select n.nspname || '.' || c.relname as name
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = any($1) and c.relkind in ('r', 'p', 'v') and obj_description(c.oid, 'pg_class') is null
        union all
        select n.nspname || '.' || c.relname || '.' || a.attname
          from pg_attribute a
          join pg_class c on c.oid = a.attrelid
          join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and col_description(c.oid, a.attnum) is null
        union all
        select n.nspname || '.' || t.typname
          from pg_type t join pg_namespace n on n.oid = t.typnamespace
         where n.nspname = any($1) and t.typtype = 'e' and obj_description(t.oid, 'pg_type') is null
        """,
        PROJECT_SCHEMAS,
    )
    assert [r["name"] for r in rows] == [], "add `comment on` (operators read these in Studio)"


async def test_frontend_tables_are_published_to_realtime(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "select schemaname || '.' || tablename as name from pg_publication_tables where pubname = 'supabase_realtime'"
    )
    assert {r["name"] for r in rows} >= REALTIME_TABLES


async def test_foreign_keys_are_indexed(conn: asyncpg.Connection) -> None:
    """Deleting a parent row scans the child table for every unindexed foreign key (cascades get slow).

    An index led by the key's first column is enough (e.g. messages (conversation_id, created_at) for the
    (conversation_id, user_id) key).
    """
    rows = await conn.fetch(
        """
        select n.nspname || '.' || c.relname || ' ' || k.conname as name
          from pg_constraint k
          join pg_class c on c.oid = k.conrelid
          join pg_namespace n on n.oid = c.relnamespace
         where k.contype = 'f' and n.nspname = any($1)
           and not exists (
             select 1 from pg_index i
              where i.indrelid = k.conrelid
                and i.indkey[0] = k.conkey[1])
        """,
        PROJECT_SCHEMAS,
    )
    assert [r["name"] for r in rows] == []
