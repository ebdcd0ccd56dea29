"""The platform bootstrap behaves like a Supabase project: roles, grants, auth helpers, realtime."""

from __future__ import annotations

import json

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD

USER_ID = "11111111-1111-4111-8111-111111111111"


async def _connect(dsn: str, role: str = "postgres") -> asyncpg.Connection:
    return await asyncpg.connect(role_dsn(dsn, role, PASSWORD))


async def test_auth_uid_reads_sub_from_request_jwt_claims(fresh_db: str) -> None:
    conn = await _connect(fresh_db, "authenticator")
    try:
        async with conn.transaction():
            await conn.execute("select set_config('role', 'authenticated', true)")
            claims = {"sub": USER_ID, "role": "authenticated", "email": "a@example.com"}
            await conn.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))
            row = await conn.fetchrow("select auth.uid()::text as uid, auth.role() as role, auth.email() as email")
            jwt = await conn.fetchval("select auth.jwt() ->> 'sub'")
        assert dict(row) == {"uid": USER_ID, "role": "authenticated", "email": "a@example.com"}
        assert jwt == USER_ID
        async with conn.transaction():  # the settings were transaction-local
            await conn.execute("set local role authenticated")
            assert await conn.fetchval("select auth.uid()") is None
    finally:
        await conn.close()


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_cannot_read_auth_tables(fresh_db: str, role: str) -> None:
    conn = await _connect(fresh_db, "authenticator")
    try:
        for table in ("auth.users", "auth.sessions", "auth.refresh_tokens", "auth.identities"):
            async with conn.transaction():
                await conn.execute(f"set local role {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(f"select * from {table}")
    finally:
        await conn.close()


async def test_roles_mirror_supabase(fresh_db: str) -> None:
    conn = await asyncpg.connect(fresh_db)
    try:
        rows = await conn.fetch(
            "select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = any($1)",
            ["postgres", "anon", "authenticated", "service_role", "authenticator", "supabase_admin"],
        )
        roles = {r["rolname"]: (r["rolsuper"], r["rolbypassrls"], r["rolcanlogin"]) for r in rows}
        assert roles == {
            "postgres": (False, True, True),
            "anon": (False, False, False),
            "authenticated": (False, False, False),
            "service_role": (False, True, False),
            "authenticator": (False, False, True),
            "supabase_admin": (True, True, True),
        }
        owner = await conn.fetchval(
            "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
        )
        assert owner == "postgres"
        assert await conn.fetchval("select pubname from pg_publication where pubname = 'supabase_realtime'")
        for schema in ("auth", "extensions", "realtime", "storage", "supabase_migrations"):
            assert await conn.fetchval("select to_regnamespace($1) is not null", schema), schema
    finally:
        await conn.close()


async def test_new_public_tables_and_functions_are_granted_to_anon(fresh_db: str) -> None:
    """Supabase's default privileges: RLS and explicit revokes are the only guards."""
    conn = await _connect(fresh_db)
    try:
        await conn.execute(
            "create table public.t (id int primary key); create function public.f() returns int "
            "language sql as 'select 1'"
        )
        assert await conn.fetchval("select has_table_privilege('anon', 'public.t', 'insert')")
        assert await conn.fetchval("select has_function_privilege('anon', 'public.f()', 'execute')")
    finally:
        await conn.close()


async def test_realtime_send_and_topic(fresh_db: str) -> None:
    conn = await _connect(fresh_db)
    try:
        async with conn.transaction():
            await conn.execute("select realtime.send('{\"n\": 1}'::jsonb, 'delta', 'chat:abc', true)")
            assert await conn.fetchval("select realtime.topic()") == "chat:abc"
        row = await conn.fetchrow("select topic, event, extension, private, payload from realtime.messages")
        assert (row["topic"], row["event"], row["extension"], row["private"]) == (
            "chat:abc",
            "delta",
            "broadcast",
            True,
        )
        assert json.loads(row["payload"])["n"] == 1
        assert "id" in json.loads(row["payload"])
    finally:
        await conn.close()


async def test_broadcast_changes_from_a_trigger(fresh_db: str) -> None:
    conn = await _connect(fresh_db)
    try:
        await conn.execute(
            """
            create table public.notes (id int primary key, body text);
            create function public.notes_broadcast() returns trigger language plpgsql security definer as $$
            begin
              perform realtime.broadcast_changes('notes:' || new.id, tg_op, tg_op, tg_table_name,
                                                 tg_table_schema, new, old);
              return new;
            end $$;
            create trigger notes_broadcast after insert on public.notes
              for each row execute function public.notes_broadcast();
            insert into public.notes values (7, 'hello');
            """
        )
        row = await conn.fetchrow("select topic, event, payload from realtime.messages")
        payload = json.loads(row["payload"])
        assert (row["topic"], row["event"]) == ("notes:7", "INSERT")
        assert payload["record"] == {"id": 7, "body": "hello"}
        assert payload["operation"] == "INSERT" and payload["table"] == "notes" and payload["old_record"] is None
    finally:
        await conn.close()


async def test_api_roles_cannot_send_broadcasts_directly(fresh_db: str) -> None:
    conn = await _connect(fresh_db, "authenticator")
    try:
        async with conn.transaction():
            await conn.execute("set local role authenticated")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("select realtime.send('{}'::jsonb, 'e', 't', true)")
    finally:
        await conn.close()
