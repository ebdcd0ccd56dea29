"""A joined channel: its topic, the joiner's claims, broadcast options and postgres_changes bindings."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from devstack.realtime.filters import Condition
from devstack.realtime.protocol import Frame

EVENTS = ("INSERT", "UPDATE", "DELETE")


class Outbox(Protocol):
    """Where a channel's frames go: the socket's bounded queue."""

    vsn: str

    def push(self, frame: Frame) -> None: ...

    def push_broadcast(self, topic: str, event: str, payload: Any, meta: dict[str, Any] | None) -> None: ...


def binding_id(params: dict[str, Any]) -> int:
    """A stable non-zero id per binding, like the real server's `:erlang.phash2(params)` (27 bits)."""
    digest = zlib.crc32(json.dumps(params, sort_keys=True).encode()) & 0x7FFFFFF
    return digest or 1


@dataclass(frozen=True)
class Binding:
    id: int
    event: str  # "*" or one of EVENTS
    schema: str
    table: str  # "*" for every table of the schema
    conditions: tuple[Condition, ...]
    select: tuple[str, ...] | None = None  # only these columns (and the primary key) in the payload

    def matches(self, schema: str, table: str, kind: str) -> bool:
        return (
            (self.event == "*" or self.event == kind)
            and (self.schema in ("*", schema))
            and (self.table in ("*", table))
        )

    def describe(self) -> str:
        filters = [f"{c.column}={'not.' if c.negate else ''}{c.op}.{c.value}" for c in self.conditions]
        return f"event: {self.event}, schema: {self.schema}, table: {self.table}, filters: {filters}"


@dataclass(eq=False)
class Channel:
    outbox: Outbox
    topic: str  # "realtime:<sub_topic>"
    join_ref: str | None
    private: bool
    self_broadcast: bool
    ack_broadcast: bool
    token: str
    claims: dict[str, Any]
    bindings: list[Binding] = field(default_factory=list)
    can_write: bool | None = None  # private channels: INSERT policy result, checked on first send
    presence_key: str = ""

    @property
    def sub_topic(self) -> str:
        return self.topic.removeprefix("realtime:")

    @property
    def role(self) -> str:
        return str(self.claims.get("role") or "anon")

    @property
    def claims_json(self) -> str:
        return json.dumps(self.claims, sort_keys=True)

    def system(self, status: str, message: str, extension: str) -> None:
        payload = {"message": message, "status": status, "extension": extension, "channel": self.sub_topic}
        self.outbox.push(Frame(self.topic, "system", payload, None, self.join_ref))
