"""The change feed: one logical replication slot (pgoutput) per database, streamed over the replication
protocol.

The walsender decodes each WAL record once and pushes a transaction as soon as it commits: commit →
decoded here takes well under a millisecond on an idle machine, whoever wrote it (the gateway, a
worker's SQL, psql). Polling `pg_logical_slot_peek_binary_changes` instead set up a decoding context
and re-read the WAL since the slot's restart point on every call (pgoutput.md "hidden cost"): under the
pipeline benchmark that was ~3 ms of Postgres CPU per reply and a ~10 ms median delay. Neither asyncpg
nor psycopg 3 speaks the replication protocol (START_REPLICATION / CopyBoth); psycopg2's
`LogicalReplicationConnection` does, and its `read_message()` never blocks, so the stream is read on the
event loop whenever its socket is readable. Everything else (catalog lookups, per-subscriber RLS checks)
runs on an ordinary asyncpg connection. A row change no joined binding wants (`wants`, asked when it is
read) is not decoded at all: a channel joining while that transaction is being read misses its rows,
within Realtime's at-most-once.

The slot is permanent (a temporary slot dies with its session and on any ERROR in it), created when
the feed starts after the publications it reads, so it survives client churn and a Postgres restart.
Each processed transaction's Commit end_lsn is reported back as flushed; transactions at or below the
last processed end_lsn are skipped (a reconnect may replay them). On start a leftover slot is
fast-forwarded (nobody was listening); on stop the slot is dropped so that it never pins WAL or blocks
DROP DATABASE.

Publications read: `supabase_realtime` (Postgres Changes, only its tables) and
`supabase_realtime_messages_publication` (INSERTs into realtime.messages: broadcasts from the database
by realtime.send / realtime.broadcast_changes), created here if missing, as the real server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import psycopg2
import psycopg2.extras

from devstack.realtime import rls
from devstack.realtime.catalog import Catalog, TableInfo
from devstack.realtime.changes import Change
from devstack.realtime.pgoutput import UNCHANGED_TOAST, Begin, Commit, Relation, RowChange, Tuple, decode

log = logging.getLogger("devstack.realtime")

CHANGES_PUBLICATION = "supabase_realtime"
MESSAGES_PUBLICATION = "supabase_realtime_messages_publication"
MESSAGES_TABLE = ("realtime", "messages")
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO",
    "IntervalStyle": "postgres",
    "bytea_output": "hex",
    "extra_float_digits": "1",
    "application_name": "devstack_realtime",
}
STREAM_OPTIONS = {"proto_version": "1", "publication_names": f"{CHANGES_PUBLICATION},{MESSAGES_PUBLICATION}"}
# Let the rest of the gateway run every this many stream messages while a big transaction arrives.
YIELD_EVERY = 256
# Rows of a transaction decoded as they are read; later ones are kept as read (RawRows) and decoded in the
# background (lanes.py): the transactions behind a bulk write wait until it has been read, and reading a
# row (psycopg2's read_message) costs ~7 µs where decoding it would cost as much again.
DECODE_AHEAD = 512
# With nothing to read, say where we are at least this often (the server drops a silent replica after
# wal_sender_timeout, 60 s by default); psycopg2 also answers the server's keepalive requests itself.
STATUS_EVERY_S = 10.0

# pgoutput's row-change tags, each followed by the relation's id (pgoutput.md "Message layouts").
ROW_CHANGES = {b"I": "INSERT", b"U": "UPDATE", b"D": "DELETE"}
RELID = struct.Struct(">I")

Sink = Callable[[asyncpg.Connection, list[Change], "RawRows | None"], Awaitable[None]]
# Whether any joined channel wants changes of this kind to this table (the sink decides who gets them).
Wants = Callable[[TableInfo, str], bool]


def slot_name(database: str) -> str:
    return ("devstack_realtime_" + re.sub(r"[^a-z0-9_]", "_", database.lower()))[:63]


def _row(table: TableInfo, values: Tuple | None, *, key_only: bool = False) -> dict[str, str | None]:
    if values is None:
        return {}
    row: dict[str, str | None] = {}
    for column, value in zip(table.relation.columns, values, strict=False):
        if value is UNCHANGED_TOAST or (key_only and not column.is_key):
            continue
        row[column.name] = value if isinstance(value, str) or value is None else None
    return row


def to_change(table: TableInfo, msg: RowChange, begin: Begin) -> Change:
    new = _row(table, msg.new)
    old = _row(table, msg.old, key_only=msg.old_is_key)
    if msg.kind == "UPDATE":
        for name, value in old.items():
            new.setdefault(name, value)  # unchanged TOAST values come from the old row (FULL identity)
        if not old:
            old = {k: new.get(k) for k in table.pk}
    size = sum(len(v) for v in (*new.values(), *old.values()) if v)
    return Change(table, msg.kind, begin.commit_time, new, old, size, begin.xid)


@dataclass(frozen=True)
class RawRows:
    """Row changes of a transaction read past DECODE_AHEAD: their table and pgoutput bytes."""

    begin: Begin
    rows: list[tuple[TableInfo, bytes]]

    def decode(self, start: int, stop: int) -> list[Change]:
        """The changes of rows[start:stop]."""
        changes = []
        for table, payload in self.rows[start:stop]:
            msg = decode(payload)
            if isinstance(msg, RowChange):
                changes.append(to_change(table, msg, self.begin))
        return changes

    def kinds(self) -> dict[tuple[int, str], TableInfo]:
        """The (relation id, event) of the rows, with their table."""
        return {(table.relation.relid, ROW_CHANGES[payload[:1]]): table for table, payload in self.rows}


class ChangeFeed:
    """Streams the slot and hands every committed transaction's changes to `sink`, in commit order."""

    def __init__(self, dsn: str, sink: Sink, wants: Wants = lambda table, kind: True) -> None:
        self.dsn = dsn
        self.sink = sink
        self.wants = wants
        self.catalog = Catalog()
        self.slot: str | None = None
        self.ready = asyncio.Event()
        self._last_end_lsn = 0
        self._reported_lsn = 0
        self._fresh_start = True
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._stream: psycopg2.extensions.connection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="devstack-realtime-feed")

    async def stop(self) -> None:
        """Stop streaming and drop the slot from a fresh session."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._close()
        if self.slot is None:
            return
        try:
            conn = await asyncpg.connect(self.dsn, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("could not drop the realtime slot", extra={"slot": self.slot, "error": str(exc)})
            return
        try:
            for _ in range(50):  # the walsender releases the slot within moments of the stream closing
                dropped = await conn.fetchval(
                    "select count(pg_drop_replication_slot(slot_name)) from pg_replication_slots"
                    " where slot_name = $1 and not active",
                    self.slot,
                )
                exists = await conn.fetchval(
                    "select count(*) from pg_replication_slots where slot_name = $1", self.slot
                )
                if dropped or not exists:
                    return
                await asyncio.sleep(0.05)
            log.warning("could not drop the realtime slot: still active", extra={"slot": self.slot})
        finally:
            await conn.close()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:  # no reader is left on its socket: _readable removes its own
            with contextlib.suppress(Exception):
                stream.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._connect()
                delay = 0.1
                await self._stream_forever()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed must outlive any error: log it, reconnect, carry on
                self.ready.clear()
                log.warning(
                    "realtime feed interrupted; reconnecting",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_s": delay},
                    exc_info=not isinstance(
                        exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError | psycopg2.Error
                    ),
                )
                self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings=SESSION_SETTINGS)
        self._conn = conn
        self.catalog.clear()
        await conn.execute(
            f"""do $$ begin
              if not exists (select 1 from pg_publication where pubname = '{MESSAGES_PUBLICATION}') then
                create publication {MESSAGES_PUBLICATION} for table realtime.messages
                  with (publish = 'insert', publish_via_partition_root = true);
              end if; end $$"""
        )
        self.slot = slot_name(await conn.fetchval("select current_database()"))
        await self._ensure_slot(conn, self.slot)
        await rls.prepare(conn)
        # Connecting (SCRAM) and START_REPLICATION block: off the event loop.
        self._stream = await asyncio.to_thread(self._open_stream, self.slot)
        self.ready.set()
        log.info("realtime feed ready", extra={"slot": self.slot})

    def _open_stream(self, slot: str) -> psycopg2.extensions.connection:
        stream = psycopg2.connect(
            self.dsn,
            connection_factory=psycopg2.extras.LogicalReplicationConnection,
            application_name=SESSION_SETTINGS["application_name"],
            connect_timeout=10,
        )
        try:
            stream.cursor().start_replication(slot_name=slot, decode=False, options=STREAM_OPTIONS)
        except BaseException:
            stream.close()
            raise
        return stream

    async def _ensure_slot(self, conn: asyncpg.Connection, slot: str) -> None:
        row = await conn.fetchrow("select active from pg_replication_slots where slot_name = $1", slot)
        if row is None:
            await conn.execute("select pg_create_logical_replication_slot($1, 'pgoutput', false)", slot)
        elif row["active"]:
            raise asyncpg.ObjectInUseError(f"replication slot {slot} is used by another gateway")
        elif self._fresh_start:
            await conn.execute("select pg_replication_slot_advance($1, pg_current_wal_lsn())", slot)
        self._fresh_start = False

    async def _stream_forever(self) -> None:
        assert self._conn is not None and self._stream is not None
        conn, cursor, fd = self._conn, self._stream.cursor(), self._stream.fileno()
        pending: list[Change] = []
        raw: list[tuple[TableInfo, bytes]] = []
        begin: Begin | None = None
        unyielded = 0
        while True:
            message = cursor.read_message()  # never blocks: None when nothing whole is buffered
            if message is None:
                if self._last_end_lsn > self._reported_lsn:
                    cursor.send_feedback(flush_lsn=self._last_end_lsn, force=True)
                    self._reported_lsn = self._last_end_lsn
                if not await self._readable(fd, STATUS_EVERY_S):
                    cursor.send_feedback(force=True)
                unyielded = 0
                continue
            unyielded += 1
            if unyielded >= YIELD_EVERY:
                unyielded = 0
                await asyncio.sleep(0)
            payload = message.payload
            if payload[:1] in ROW_CHANGES and self._set_aside(payload, len(pending), raw):
                continue
            msg = decode(payload)
            if isinstance(msg, Begin):
                pending, raw, begin = [], [], msg
            elif isinstance(msg, Relation):
                await self.catalog.learn(conn, msg)
            elif isinstance(msg, RowChange):
                table = self.catalog.get(msg.relid)
                if table is not None and begin is not None:
                    pending.append(to_change(table, msg, begin))
            elif isinstance(msg, Commit):
                if msg.end_lsn > self._last_end_lsn:
                    if pending or raw:
                        await self.sink(conn, pending, RawRows(begin, raw) if raw and begin else None)
                    self._last_end_lsn = msg.end_lsn
                pending, raw = [], []

    def _set_aside(self, payload: bytes, decoded: int, raw: list[tuple[TableInfo, bytes]]) -> bool:
        """Whether a row change needs no decoding now: nobody wants it, or (past DECODE_AHEAD rows of its
        transaction) it is kept in `raw` for later. Database broadcasts are always decoded."""
        table = self.catalog.get(RELID.unpack_from(payload, 1)[0])
        if table is None:
            return False  # not learnt yet: decoded (its Relation message comes first)
        if not self.wants(table, ROW_CHANGES[payload[:1]]):
            return True
        if decoded < DECODE_AHEAD or (table.schema, table.name) == MESSAGES_TABLE:
            return False
        raw.append((table, payload))
        return True

    def _wanted(self, payload: bytes) -> bool:
        """Whether a row change (I/U/D: the tag, then the relation's id) is for anyone listening now."""
        table = self.catalog.get(RELID.unpack_from(payload, 1)[0])
        return table is None or self.wants(table, ROW_CHANGES[payload[:1]])

    @staticmethod
    async def _readable(fd: int, seconds: float) -> bool:
        """Wait until the stream's socket has data (True) or `seconds` pass (False)."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[bool] = loop.create_future()

        def settle(readable: bool) -> None:
            if not ready.done():
                ready.set_result(readable)

        timer = loop.call_later(seconds, settle, False)
        loop.add_reader(fd, settle, True)
        try:
            return await ready
        finally:
            timer.cancel()
            loop.remove_reader(fd)
