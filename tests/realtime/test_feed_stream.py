"""The change feed streams the replication slot: a write made anywhere (here straight in SQL, not through
the gateway) reaches subscribers without any poll, and the slot's flushed position follows what the
gateway has processed, so the slot never pins WAL it no longer needs."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack


async def test_a_write_made_in_sql_reaches_subscribers_and_the_slot_moves_on(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.service_role_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel("streamed").on_postgres_changes("INSERT", inbox, table="rt_messages")
        await subscribe(channel)
        conn = await asyncpg.connect(rt_stack.dsn)  # superuser: pg_stat_replication in full
        try:
            senders = await conn.fetch(  # this database's: other tests' gateways stream from the same cluster
                "select r.application_name, r.state from pg_stat_replication r"
                " join pg_replication_slots s on s.active_pid = r.pid where s.database = current_database()"
            )
            assert [(r["application_name"], r["state"]) for r in senders] == [("devstack_realtime", "streaming")]

            written = await conn.fetchval(
                "with row as (insert into public.rt_messages (body) values ('straight in SQL') returning 1)"
                " select pg_current_wal_insert_lsn() from row"
            )
            payload = await inbox.next(within=5)
            assert payload["data"]["record"]["body"] == "straight in SQL"

            for _ in range(100):
                flushed = await conn.fetchval(
                    "select confirmed_flush_lsn from pg_replication_slots where database = current_database()"
                )
                if flushed >= written:
                    break
                await asyncio.sleep(0.05)
            assert flushed >= written, (flushed, written)
        finally:
            await conn.close()
