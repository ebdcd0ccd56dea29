"""Postgres Changes through supabase-py (`acreate_client`, `on_postgres_changes`) against the devstack."""

from __future__ import annotations

import re
import uuid

import asyncpg

from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_insert_update_delete_payloads(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel("db-messages").on_postgres_changes("*", inbox, schema="public", table="rt_messages")
        await subscribe(channel)
        binding_id = channel.postgres_changes_callbacks[0].id
        assert binding_id

        conn = await asyncpg.connect(rt_stack.postgres_dsn)
        try:
            row_id = await conn.fetchval("insert into public.rt_messages (body) values ('hello') returning id")
            await conn.execute("update public.rt_messages set body = 'hi' where id = $1", row_id)
            await conn.execute("delete from public.rt_messages where id = $1", row_id)
        finally:
            await conn.close()

        insert, update, delete = (payload for payload in await inbox.take(3))
        columns = [
            {"name": "id", "type": "int8"},
            {"name": "body", "type": "text"},
            {"name": "created_at", "type": "timestamptz"},
        ]
        for payload, kind in ((insert, "INSERT"), (update, "UPDATE"), (delete, "DELETE")):
            assert payload["ids"] == [binding_id]
            data = payload["data"]
            assert (data["schema"], data["table"], data["type"]) == ("public", "rt_messages", kind)
            assert data["columns"] == columns
            assert data["errors"] is None
            assert TIMESTAMP.match(data["commit_timestamp"]), data["commit_timestamp"]
        assert insert["data"]["record"]["id"] == row_id
        assert insert["data"]["record"]["body"] == "hello"
        assert re.match(r"^\d{4}-\d\d-\d\dT.*\+00:00$", insert["data"]["record"]["created_at"])
        assert "old_record" not in insert["data"]
        assert update["data"]["record"]["body"] == "hi"
        assert update["data"]["old_record"] == {"id": row_id}
        assert delete["data"]["old_record"] == {"id": row_id}
        assert "record" not in delete["data"]


async def test_values_are_typed_json(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.service_role_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel(f"items-{uuid.uuid4().hex[:6]}").on_postgres_changes(
            "INSERT", inbox, table="rt_items", filter="label=eq.typed"
        )
        await subscribe(channel)
        await rt_stack.execute(
            """insert into public.rt_items (n, label, tags, meta, price, done)
               values (7, 'typed', '{"a b",NULL,"c,d"}', '{"k": [1, 2]}', 12.5, true)"""
        )
        record = (await inbox.next())["data"]["record"]
        assert record["n"] == 7
        assert record["tags"] == ["a b", None, "c,d"]
        assert record["meta"] == {"k": [1, 2]}
        assert record["price"] == 12.5
        assert record["done"] is True
