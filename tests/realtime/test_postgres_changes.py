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


async def test_filters_and_events(rt_stack: RtStack) -> None:
    label = f"f-{uuid.uuid4().hex[:6]}"
    filters = {
        "eq": "n=eq.3",
        "neq": "n=neq.3",
        "lt": "n=lt.3",
        "lte": "n=lte.3",
        "gt": "n=gt.3",
        "gte": "n=gte.3",
        "in": "n=in.(1,5)",
    }
    async with client(rt_stack, rt_stack.service_role_key) as supabase:
        inboxes = {name: Inbox() for name in filters}
        updates = Inbox()
        channel = supabase.channel(f"filters-{label}")
        for name, flt in filters.items():
            channel.on_postgres_changes("INSERT", inboxes[name], table="rt_items", filter=f"{flt},label=eq.{label}")
        channel.on_postgres_changes("UPDATE", updates, table="rt_items", filter=f"label=eq.{label}")
        await subscribe(channel)
        await rt_stack.execute(
            "insert into public.rt_items (n, label) select g, $1 from generate_series(1, 5) g", label
        )
        await rt_stack.execute("update public.rt_items set done = true where label = $1 and n = 2", label)
        assert (await updates.next())["data"]["record"]["n"] == 2
        expected = {
            "eq": [3],
            "neq": [1, 2, 4, 5],
            "lt": [1, 2],
            "lte": [1, 2, 3],
            "gt": [4, 5],
            "gte": [3, 4, 5],
            "in": [1, 5],
        }
        for name, numbers in expected.items():
            got = [p["data"]["record"]["n"] for p in inboxes[name].drain()]
            assert got == numbers, name


async def test_rls_each_subscriber_sees_only_what_it_may_select(rt_stack: RtStack) -> None:
    user_a, user_b = str(uuid.uuid4()), str(uuid.uuid4())
    inbox_a, inbox_b, inbox_anon, inbox_service = Inbox(), Inbox(), Inbox(), Inbox()
    async with (
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_a)) as a,
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_b)) as b,
        client(rt_stack, rt_stack.anon_key) as anon,
        client(rt_stack, rt_stack.service_role_key) as service,
    ):
        for supabase, inbox in ((a, inbox_a), (b, inbox_b), (anon, inbox_anon), (service, inbox_service)):
            channel = supabase.channel("notes").on_postgres_changes("*", inbox, table="rt_notes")
            await subscribe(channel)
        await rt_stack.execute(
            "insert into public.rt_notes (owner_id, body) values ($1, 'a1'), ($1, 'a2'), ($2, 'b1')",
            uuid.UUID(user_a),
            uuid.UUID(user_b),
        )
        # The service role (bypasses RLS) sees all three; a user sees its own rows only.
        assert [p["data"]["record"]["body"] for p in await inbox_service.take(3)] == ["a1", "a2", "b1"]
        assert [p["data"]["record"]["body"] for p in await inbox_a.take(2)] == ["a1", "a2"]
        assert (await inbox_b.next())["data"]["record"]["body"] == "b1"
        # A later change B may see arrives after anything from the earlier transaction.
        await rt_stack.execute("insert into public.rt_notes (owner_id, body) values ($1, 'b2')", uuid.UUID(user_b))
        assert (await inbox_b.next())["data"]["record"]["body"] == "b2"
        await inbox_service.next()
        assert inbox_b.drain() == []
        assert inbox_anon.drain() == []
        assert inbox_a.drain() == []


async def test_tables_outside_the_publication_and_rollbacks_emit_nothing(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.service_role_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel("everything").on_postgres_changes("*", inbox, schema="public")
        await subscribe(channel)
        conn = await asyncpg.connect(rt_stack.postgres_dsn)
        try:
            await conn.execute("insert into public.rt_hidden values (1, 'not published')")
            tx = conn.transaction()
            await tx.start()
            await conn.execute("insert into public.rt_messages (body) values ('rolled back')")
            await tx.rollback()
            await conn.execute("insert into public.rt_messages (body) values ('sentinel')")
        finally:
            await conn.close()
        payload = await inbox.next()
        assert (payload["data"]["table"], payload["data"]["record"]["body"]) == ("rt_messages", "sentinel")
        assert inbox.drain() == []


async def test_binding_on_an_unpublished_table_gets_a_system_error(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        states = Inbox()
        channel = supabase.channel("hidden").on_postgres_changes("*", Inbox(), table="rt_hidden")
        await channel.subscribe(states)
        assert (await states.next())[0].value == "SUBSCRIBED"  # the join succeeds; the bindings do not
        state, error = await states.next()
        assert state.value == "CHANNEL_ERROR"
        assert "Unable to subscribe to changes with given parameters" in str(error)


async def test_a_thousand_inserts_in_one_transaction_arrive_in_commit_order(rt_stack: RtStack) -> None:
    label = f"bulk-{uuid.uuid4().hex[:6]}"
    async with client(rt_stack, rt_stack.service_role_key) as worker:
        inbox = Inbox()
        channel = worker.channel(label).on_postgres_changes("INSERT", inbox, table="rt_items")
        await subscribe(channel)
        await rt_stack.execute(
            "insert into public.rt_items (n, label) select g, $1 from generate_series(1, 1000) g", label
        )
        received = [p["data"]["record"]["n"] for p in await inbox.take(1000)]
        assert received == list(range(1, 1001))


async def test_select_trims_the_payload_to_the_chosen_columns_and_the_key(rt_stack: RtStack) -> None:
    label = f"sel-{uuid.uuid4().hex[:6]}"
    async with client(rt_stack, rt_stack.service_role_key) as supabase:
        slim, full = Inbox(), Inbox()
        channel = (
            supabase.channel(label)
            .on_postgres_changes("INSERT", slim, table="rt_items", filter=f"label=eq.{label}", select=["n"])
            .on_postgres_changes("INSERT", full, table="rt_items", filter=f"label=eq.{label}")
        )
        await subscribe(channel)
        await rt_stack.execute("insert into public.rt_items (n, label) values (5, $1)", label)
        data = (await slim.next())["data"]
        assert set(data["record"]) == {"id", "n"}
        assert [c["name"] for c in data["columns"]] == ["id", "n"]
        assert "label" in (await full.next())["data"]["record"]


async def test_deletes_skip_rls_and_carry_only_the_primary_key(rt_stack: RtStack) -> None:
    owner, other = str(uuid.uuid4()), str(uuid.uuid4())
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(other)) as supabase:
        inbox = Inbox()
        await subscribe(supabase.channel("deletes").on_postgres_changes("DELETE", inbox, table="rt_notes"))
        conn = await asyncpg.connect(rt_stack.postgres_dsn)
        try:
            await conn.execute("alter table public.rt_notes replica identity full")
            note_id = await conn.fetchval(
                "insert into public.rt_notes (owner_id, body) values ($1, 'secret') returning id", uuid.UUID(owner)
            )
            await conn.execute("delete from public.rt_notes where id = $1", note_id)
        finally:
            await conn.execute("alter table public.rt_notes replica identity default")
            await conn.close()
        data = (await inbox.next())["data"]
        # As on Supabase: a DELETE cannot be checked against RLS, so it reaches every subscriber, and on a
        # table with RLS its old_record is reduced to the primary key even with REPLICA IDENTITY FULL.
        assert data["type"] == "DELETE"
        assert data["old_record"] == {"id": note_id}


async def test_delete_events_and_filters_as_supabase_documents(rt_stack: RtStack) -> None:
    """Filters join the columns a change carries: a DELETE carries its key only (REPLICA IDENTITY
    DEFAULT), so a subscription filtered on another column gets none ("delete events are not
    filterable"); with REPLICA IDENTITY FULL the filter is judged on the old row. RLS is never checked on
    DELETEs, and on a table with RLS the old record is the key alone."""
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(bob)) as supabase:
        on_alice, on_bob, everything, by_key = Inbox(), Inbox(), Inbox(), Inbox()
        conn = await asyncpg.connect(rt_stack.postgres_dsn)
        try:
            first = await conn.fetchval(
                "insert into public.rt_notes (owner_id, body) values ($1, 'a') returning id", uuid.UUID(alice)
            )
            channel = (
                supabase.channel("deletes-filtered")
                .on_postgres_changes("DELETE", on_alice, table="rt_notes", filter=f"owner_id=eq.{alice}")
                .on_postgres_changes("DELETE", on_bob, table="rt_notes", filter=f"owner_id=eq.{bob}")
                .on_postgres_changes("DELETE", everything, table="rt_notes")
                .on_postgres_changes("DELETE", by_key, table="rt_notes", filter=f"id=eq.{first}")
            )
            await subscribe(channel)
            await conn.execute("delete from public.rt_notes where id = $1", first)
            assert (await everything.next())["data"]["old_record"] == {"id": first}
            assert (await by_key.next())["data"]["old_record"] == {"id": first}  # the key is carried
            await conn.execute("alter table public.rt_notes replica identity full")
            second = await conn.fetchval(
                "insert into public.rt_notes (owner_id, body) values ($1, 'b') returning id", uuid.UUID(alice)
            )
            await conn.execute("delete from public.rt_notes where id = $1", second)
            assert (await everything.next())["data"]["old_record"] == {"id": second}
            assert (await on_alice.next())["data"]["old_record"] == {"id": second}  # judged on the old row
        finally:
            await conn.execute("alter table public.rt_notes replica identity default")
            await conn.close()
        # Both deletes were sent before the last one arrived (changes reach a channel in commit order).
        assert on_bob.drain() == [] and on_alice.drain() == [] and by_key.drain() == []
