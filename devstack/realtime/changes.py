"""Postgres Changes: match a decoded row change to the joined bindings, check RLS per subscriber, send.

Mirrors supabase/realtime's `realtime.apply_rls`: per subscriber role the columns it may SELECT; INSERT
and UPDATE of tables without a primary key give "Error 400", a primary key the role cannot read
"Error 401"; on tables with RLS each distinct (role, claims) runs `select exists(… where pk = …)` as that
role with `request.jwt.claims` set; DELETEs skip RLS and then carry only the key. A row over
`max_record_bytes` is sent with "Error 413: Payload Too Large" and only its values of ≤ 64 bytes.

Visibility: the walsender streams a transaction once its commit record is flushed, and the committing
session leaves the list of running transactions only after that (after a synchronous standby confirmed
it, when there is one). A check that read the row in between would find nothing and drop the change for
every subscriber allowed to see it. So the same call first waits, in Postgres, until the transaction is
visible to new snapshots (`pg_visible_in_snapshot` of its xid against `pg_current_snapshot()`): one
in-memory test when it already is, as nearly always, and a 1 ms poll only while it is not, up to
`realtime_visibility_wait_s` (5 s). Nothing is added in front of changes that need no read.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from devstack.realtime.catalog import Catalog, TableInfo
from devstack.realtime.channel import Channel
from devstack.realtime.filters import visible
from devstack.realtime.protocol import Frame
from devstack.realtime.values import convert

log = logging.getLogger("devstack.realtime")

SMALL_VALUE_BYTES = 64
# Functions of the feed's own session (pg_temp): created once per connection by `prepare`.
RLS_FUNCTIONS = """
-- Wait until transaction `xid` is visible to new snapshots, at most `seconds` (a commit held by a
-- synchronous standby that never answers); past that the check reads anyway and may drop the change.
create or replace function pg_temp.devstack_await_visible(xid bigint, seconds double precision)
returns void language plpgsql as $$
declare
  snap pg_snapshot;
  xmax bigint;
  deadline timestamptz := clock_timestamp() + make_interval(secs => seconds);
begin
  loop
    -- Every evaluation takes a new snapshot (a volatile function under READ COMMITTED).
    snap := pg_current_snapshot();
    xmax := pg_snapshot_xmax(snap)::text::bigint;
    -- pgoutput sends the 32-bit xid: widen it with the epoch of the snapshot's xmax.
    exit when pg_visible_in_snapshot(
      (xmax + (((xid - (xmax & 4294967295)) + 2147483648) % 4294967296 + 4294967296) % 4294967296
        - 2147483648)::text::xid8,
      snap);
    if clock_timestamp() > deadline then
      raise warning 'devstack realtime: transaction % still not visible after % s', xid, seconds;
      exit;
    end if;
    perform pg_sleep(0.001);
  end loop;
end $$;

create or replace function pg_temp.devstack_rls_visible(
  query text, keys text[], roles text[], claims text[], xid bigint, wait_s double precision
) returns boolean[] language plpgsql as $$
declare
  result boolean[] := '{}';
  ok boolean;
begin
  if wait_s > 0 then
    perform pg_temp.devstack_await_visible(xid, wait_s);
  end if;
  for i in 1 .. coalesce(array_length(roles, 1), 0) loop
    begin
      perform set_config('role', roles[i], true), set_config('request.jwt.claims', claims[i], true);
      execute query into ok using keys;
      perform set_config('role', 'none', true);
    exception when others then
      ok := false;
      raise warning 'devstack realtime: RLS check failed for role %: %', roles[i], sqlerrm;
    end;
    result := result || coalesce(ok, false);
  end loop;
  perform set_config('request.jwt.claims', '', true);
  return result;
end $$;
"""


@dataclass(frozen=True)
class Change:
    """A row change with text values: `new` for INSERT/UPDATE, `old` the key or old row when known."""

    table: TableInfo
    kind: str
    commit_time: datetime
    new: dict[str, str | None]
    old: dict[str, str | None]
    size: int
    xid: int  # the transaction's id as pgoutput sends it (32 bits)

    @property
    def filter_record(self) -> dict[str, str | None]:
        return self.old if self.kind == "DELETE" else self.new

    @property
    def commit_timestamp(self) -> str:
        stamp = self.commit_time.astimezone(UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


Select = tuple[str, ...] | None
Members = list[tuple[Channel, Select, list[int]]]


def _matching(channel: Channel, change: Change) -> dict[Select, list[int]]:
    """Ids of the channel's bindings that want this change, grouped by their column selection."""
    table = change.table
    groups: dict[Select, list[int]] = defaultdict(list)
    for binding in channel.bindings:
        if binding.matches(table.schema, table.name, change.kind) and visible(
            binding.conditions, change.filter_record, table.types
        ):
            groups[binding.select].append(binding.id)
    return groups


class ChangeDispatcher:
    """Sends each change to the channels that asked for it and may see it."""

    def __init__(self, catalog: Catalog, max_record_bytes: int, visibility_wait_s: float = 5.0) -> None:
        self.catalog = catalog
        self.max_record_bytes = max_record_bytes
        self.visibility_wait_s = visibility_wait_s

    @staticmethod
    async def prepare(conn: asyncpg.Connection) -> None:
        await conn.execute(RLS_FUNCTIONS)

    async def dispatch(self, conn: asyncpg.Connection, change: Change, channels: list[Channel]) -> None:
        by_role: dict[str, Members] = defaultdict(list)
        for channel in channels:
            for select, ids in _matching(channel, change).items():
                by_role[channel.role].append((channel, select, ids))
        for role, members in by_role.items():
            await self._dispatch_role(conn, change, role, members)

    async def _dispatch_role(self, conn: asyncpg.Connection, change: Change, role: str, members: Members) -> None:
        table = change.table
        columns = await self.catalog.selectable(conn, table, role)
        error = None
        if change.kind != "DELETE" and not table.pk:
            error = "Error 400: Bad Request, no primary key"
        elif change.kind != "DELETE" and not set(table.pk) <= columns:
            error = "Error 401: Unauthorized"
        if error is not None:
            data = self._error_data(change, error)
            for channel, _, ids in members:
                _send(channel, ids, data)
            return
        if table.rls and change.kind != "DELETE" and not await self.catalog.bypasses_rls(conn, role):
            members = await self._visible(conn, change, role, members)
        payloads: dict[Select, dict[str, Any]] = {}
        for channel, select, ids in members:
            if select not in payloads:
                visible = columns if select is None else columns & {*select, *table.pk}
                payloads[select] = self._data(change, frozenset(visible))
            _send(channel, ids, payloads[select])

    async def _visible(self, conn: asyncpg.Connection, change: Change, role: str, members: Members) -> Members:
        """The members whose claims let them SELECT the row, one query per distinct claims."""
        table = change.table
        claim_sets = sorted({channel.claims_json for channel, _, _ in members})
        keys = [change.new.get(col) for col in table.pk]
        allowed = await conn.fetchval(
            "select pg_temp.devstack_rls_visible($1, $2, $3, $4, $5, $6)",
            table.exists_sql(),
            keys,
            [role] * len(claim_sets),
            claim_sets,
            change.xid,
            self.visibility_wait_s,
        )
        visible = {claims for claims, ok in zip(claim_sets, allowed, strict=True) if ok}
        return [member for member in members if member[0].claims_json in visible]

    def _error_data(self, change: Change, error: str) -> dict[str, Any]:
        table = change.table
        return {
            "schema": table.schema,
            "table": table.name,
            "commit_timestamp": change.commit_timestamp,
            "type": change.kind,
            "columns": [],
            "errors": [error],
        }

    def _data(self, change: Change, selectable: frozenset[str]) -> dict[str, Any]:
        table = change.table
        too_big = change.size > self.max_record_bytes
        data: dict[str, Any] = {
            "schema": table.schema,
            "table": table.name,
            "commit_timestamp": change.commit_timestamp,
            "type": change.kind,
            "columns": [
                {"name": name, "type": table.types[name].name}
                for name in table.column_names
                if name in selectable and name in table.types
            ],
            "errors": ["Error 413: Payload Too Large"] if too_big else None,
        }
        if change.kind in ("INSERT", "UPDATE"):
            data["record"] = self._record(change, change.new, selectable, too_big)
        if change.kind == "UPDATE":
            data["old_record"] = self._record(change, change.old, selectable, too_big)
        elif change.kind == "DELETE":
            old = {k: v for k, v in change.old.items() if k in table.pk} if table.rls else change.old
            data["old_record"] = self._record(change, old, selectable, too_big)
        return data

    @staticmethod
    def _record(
        change: Change, values: dict[str, str | None], selectable: frozenset[str], too_big: bool
    ) -> dict[str, Any]:
        types = change.table.types
        record: dict[str, Any] = {}
        for name, text in values.items():
            if name not in selectable:
                continue
            value = convert(types.get(name), text)
            if too_big and len(json.dumps(value)) > SMALL_VALUE_BYTES:
                continue
            record[name] = value
        return record


def _send(channel: Channel, ids: list[int], data: dict[str, Any]) -> None:
    frame = Frame(channel.topic, "postgres_changes", {"ids": ids, "data": data}, None, None)
    channel.outbox.push(frame)
