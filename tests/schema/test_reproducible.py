"""Applying all migrations and the seed from scratch twice gives the same schema, catalog entry for entry."""

from __future__ import annotations

import uuid

import asyncpg

from devstack import migrate
from devstack.db import role_dsn
from devstack.settings import REPO_ROOT
from tests.conftest import PASSWORD, _admin, _with_database

# One line per catalog object of the project's schemas: everything but OIDs and timestamps.
FINGERPRINT = """
with project as (select oid, nspname from pg_namespace where nspname in ('public', 'internal'))
select 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
       || ' options=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, '')
       || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
       || case when c.relkind = 'v' then ' view=' || md5(pg_get_viewdef(c.oid)) else '' end
  from pg_class c join project n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'S', 'i')
union all
select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || ' acl=' || coalesce(a.attacl::text, '') || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join project n on n.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v')
union all
select 'constraint ' || n.nspname || '.' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  from pg_constraint k join pg_class c on c.oid = k.conrelid join project n on n.oid = c.relnamespace
union all
select 'index ' || pg_get_indexdef(i.indexrelid)
  from pg_index i join pg_class c on c.oid = i.indrelid join project n on n.oid = c.relnamespace
union all
select 'policy ' || schemaname || '.' || tablename || '.' || policyname || ' ' || cmd || ' ' || roles::text
       || ' using=' || coalesce(qual, '') || ' check=' || coalesce(with_check, '')
  from pg_policies
union all
select 'function ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
       || ' definer=' || p.prosecdef || ' volatile=' || p.provolatile::text
       || ' config=' || coalesce(p.proconfig::text, '')
       || ' acl=' || coalesce(p.proacl::text, '') || ' body=' || md5(p.prosrc)
       || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
  from pg_proc p join project n on n.oid = p.pronamespace
union all
select 'trigger ' || pg_get_triggerdef(t.oid)
  from pg_trigger t join pg_class c on c.oid = t.tgrelid
 where not t.tgisinternal and c.relnamespace in (select oid from project union all select 'auth'::regnamespace)
union all
select 'type ' || n.nspname || '.' || t.typname || ' ' || coalesce(
         (select string_agg(e.enumlabel, ',' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), '')
       || ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
  from pg_type t join project n on n.oid = t.typnamespace
 where t.typtype = 'e'
union all
select 'publication ' || pubname || ' ' || schemaname || '.' || tablename from pg_publication_tables
union all
select 'default acl ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(d.defaclnamespace::regnamespace::text, '*')
       || ' ' || d.defaclobjtype::text || ' ' || d.defaclacl::text
  from pg_default_acl d
union all
select 'schema ' || nspname || ' acl=' || coalesce(nspacl::text, '') || ' comment='
       || coalesce(obj_description(oid, 'pg_namespace'), '')
  from pg_namespace where nspname in ('public', 'internal')
"""


async def _reset_and_fingerprint(pg_server: str, template: str) -> list[str]:
    name = f"coachbase_repro_{uuid.uuid4().hex[:8]}"
    await _admin(pg_server, f'create database "{name}" template "{template}" owner postgres')
    try:
        dsn = _with_database(pg_server, name)
        postgres = role_dsn(dsn, "postgres", PASSWORD)
        await migrate.apply_migrations(postgres, REPO_ROOT / "supabase" / "migrations")
        await migrate.seed(postgres, REPO_ROOT / "supabase" / "seed.sql")
        conn = await asyncpg.connect(dsn)
        try:
            return sorted(r[0] for r in await conn.fetch(FINGERPRINT))
        finally:
            await conn.close()
    finally:
        await _admin(pg_server, f'drop database if exists "{name}" with (force)')


async def test_migrations_from_scratch_twice_give_the_same_schema(pg_server: str, platform_template: str) -> None:
    first = await _reset_and_fingerprint(pg_server, platform_template)
    second = await _reset_and_fingerprint(pg_server, platform_template)
    assert len(first) > 300
    assert any(line.startswith("policy public.messages.") for line in first)
    assert first == second
