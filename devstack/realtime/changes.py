"""Postgres Changes: the events of a transaction's row changes for the channels that want them.

Mirrors supabase/realtime's `realtime.apply_rls`: per subscriber role the columns it may SELECT; INSERT
and UPDATE of tables without a primary key give "Error 400", a primary key the role cannot read
"Error 401"; on tables with RLS each distinct (role, claims) must be able to select the row by its key
as that role with `request.jwt.claims` set (`rls.RlsChecker`, which first waits until the transaction is
visible); DELETEs skip RLS and then carry only the key. A row over `max_record_bytes` is sent with
"Error 413: Payload Too Large" and only its values of ≤ 64 bytes.

`decide` runs the checks of a batch of one transaction's changes (one round trip per table and role);
`frames` then builds the events in change order. Who wants which change is `interest.Interest`'s
answer; when the events are sent, `lanes.Lanes`'.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devstack.realtime.catalog import Catalog, TableInfo
from devstack.realtime.channel import Channel
from devstack.realtime.protocol import Frame
from devstack.realtime.rls import RlsChecker
from devstack.realtime.values import convert

SMALL_VALUE_BYTES = 64


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
# A channel that wants a change: the column selection of its wanting bindings, and their ids.
Member = tuple[Channel, Select, list[int]]
Members = list[Member]


@dataclass(frozen=True)
class Access:
    """What one role may see of one table's changes."""

    columns: frozenset[str]
    error: str | None  # INSERT/UPDATE get this error instead of the row
    rls: bool  # INSERT/UPDATE are checked row by row


@dataclass
class Decisions:
    """The checks' outcome for a batch: per (table, role) its access, and the (claims, index) allowed."""

    access: dict[tuple[int, str], Access] = field(default_factory=dict)
    allowed: set[tuple[str, int]] = field(default_factory=set)

    def passes(self, index: int, change: Change, channel: Channel) -> bool:
        access = self.access[(change.table.relation.relid, channel.role)]
        if change.kind == "DELETE" or access.error is not None or not access.rls:
            return True
        return (channel.claims_json, index) in self.allowed


class ChangeDispatcher:
    """Checks and builds the events of row changes for the channels that want them."""

    def __init__(self, catalog: Catalog, max_record_bytes: int) -> None:
        self.catalog = catalog
        self.max_record_bytes = max_record_bytes

    async def decide(self, checker: RlsChecker, changes: Sequence[Change], members: Sequence[Members]) -> Decisions:
        """Grants and RLS for `members[i]` wanting `changes[i]` (all of one transaction)."""
        decisions = Decisions()
        wanted: dict[tuple[int, str], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        tables: dict[int, TableInfo] = {}
        for index, (change, own) in enumerate(zip(changes, members, strict=True)):
            table = change.table
            for channel, _, _ in own:
                key = (table.relation.relid, channel.role)
                access = decisions.access.get(key)
                if access is None:
                    access = decisions.access[key] = await self._access(checker, table, channel.role)
                if change.kind != "DELETE" and access.error is None and access.rls:
                    wanted[key][channel.claims_json].add(index)
                    tables[table.relation.relid] = table
        for (relid, role), by_claims in wanted.items():
            positions = sorted(set().union(*by_claims.values()))
            keys = [changes[i].new for i in positions]
            allowed = await checker.visible(tables[relid], role, sorted(by_claims), keys, changes[positions[0]].xid)
            decisions.allowed.update(
                (claims, positions[at]) for claims, at in allowed if positions[at] in by_claims[claims]
            )
        return decisions

    async def _access(self, checker: RlsChecker, table: TableInfo, role: str) -> Access:
        columns = await self.catalog.selectable(checker.conn, table, role)
        error = None
        if not table.pk:
            error = "Error 400: Bad Request, no primary key"
        elif not set(table.pk) <= columns:
            error = "Error 401: Unauthorized"
        rls = table.rls and error is None and not await self.catalog.bypasses_rls(checker.conn, role)
        return Access(columns, error, rls)

    def frames(
        self, changes: Sequence[Change], members: Sequence[Members], decisions: Decisions
    ) -> Iterator[tuple[Channel, Frame]]:
        """The events, in change order, of the members the decisions let see their change."""
        for index, (change, own) in enumerate(zip(changes, members, strict=True)):
            payloads: dict[tuple[str, Select], dict[str, Any]] = {}
            for channel, select, ids in own:
                if not decisions.passes(index, change, channel):
                    continue
                key = (channel.role, select)
                data = payloads.get(key)
                if data is None:
                    access = decisions.access[(change.table.relation.relid, channel.role)]
                    if change.kind != "DELETE" and access.error is not None:
                        data = self._error_data(change, access.error)
                    else:
                        readable = access.columns if select is None else access.columns & {*select, *change.table.pk}
                        data = self._data(change, frozenset(readable))
                    payloads[key] = data
                yield channel, Frame(channel.topic, "postgres_changes", {"ids": ids, "data": data}, None, None)

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
