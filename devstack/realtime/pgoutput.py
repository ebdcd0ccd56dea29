"""Decoder of the logical replication messages the built-in `pgoutput` plugin emits (protocol v1).

Only what Realtime needs: Begin, Commit, Relation, Insert, Update, Delete. Type, Origin, Truncate and
logical Messages are skipped. Layouts: pgoutput.md "Message layouts" and PostgreSQL's "Logical
Replication Message Formats". Values stay as pgoutput's text output; `values.py` turns them into JSON.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

UNCHANGED_TOAST = object()  # marker for a TOASTed column an UPDATE left untouched ('u')

Tuple = list["str | object | None"]


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True)
class RelationColumn:
    name: str
    type_oid: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    relid: int
    schema: str
    name: str
    replica_identity: str
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class RowChange:
    """An Insert, Update or Delete; `old` is the key or full old tuple when pgoutput sent one."""

    kind: str  # "INSERT" | "UPDATE" | "DELETE"
    relid: int
    new: Tuple | None
    old: Tuple | None
    old_is_key: bool


Message = Begin | Commit | Relation | RowChange | None


class PgOutputError(ValueError):
    """Bytes that do not follow the pgoutput layout."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 1  # after the tag byte

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def byte(self) -> str:
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value

    def timestamp(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.take("!q"))

    def tuple_data(self) -> Tuple:
        values: Tuple = []
        for _ in range(self.take("!h")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED_TOAST)
            elif kind in ("t", "b"):
                length = self.take("!i")
                values.append(self.data[self.pos : self.pos + length].decode())
                self.pos += length
            else:
                raise PgOutputError(f"unknown tuple column kind {kind!r}")
        return values


def _relation(r: _Reader) -> Relation:
    relid = r.take("!I")
    schema, name = r.string(), r.string()
    identity = r.byte()
    columns = []
    for _ in range(r.take("!h")):
        flags = r.take("!b")
        col_name = r.string()
        type_oid = r.take("!I")
        r.take("!i")  # typmod
        columns.append(RelationColumn(col_name, type_oid, bool(flags & 1)))
    return Relation(relid, schema or "pg_catalog", name, identity, tuple(columns))


def _update(r: _Reader) -> RowChange:
    relid = r.take("!I")
    marker = r.byte()
    old: Tuple | None = None
    if marker in ("K", "O"):
        old = r.tuple_data()
        old_is_key = marker == "K"
        marker = r.byte()
    else:
        old_is_key = False
    if marker != "N":
        raise PgOutputError(f"expected new tuple, got {marker!r}")
    return RowChange("UPDATE", relid, r.tuple_data(), old, old_is_key)


def decode(data: bytes) -> Message:
    """One pgoutput message; None for the kinds Realtime ignores."""
    tag = chr(data[0])
    r = _Reader(data)
    if tag == "B":
        final_lsn = r.take("!Q")
        return Begin(final_lsn, r.timestamp(), r.take("!I"))
    if tag == "C":
        r.take("!b")
        r.take("!Q")  # commit_lsn
        end_lsn = r.take("!Q")
        return Commit(end_lsn, r.timestamp())
    if tag == "R":
        return _relation(r)
    if tag == "I":
        relid = r.take("!I")
        if r.byte() != "N":
            raise PgOutputError("expected new tuple in Insert")
        return RowChange("INSERT", relid, r.tuple_data(), None, False)
    if tag == "U":
        return _update(r)
    if tag == "D":
        relid = r.take("!I")
        marker = r.byte()
        return RowChange("DELETE", relid, None, r.tuple_data(), marker == "K")
    return None
