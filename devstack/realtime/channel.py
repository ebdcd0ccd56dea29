"""A joined channel: its topic, the joiner's claims, broadcast options and postgres_changes bindings.

Change events go out through `deliver`: while the change feed finishes an earlier, large transaction in
the background for this channel (`hold`), later events wait behind it in `pending`, so that a channel
always gets its changes in commit order (`release` sends what waited, up to the next hold).
"""

from __future__ import annotations

import json
import zlib
from collections import deque
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
    claims_json: str = field(init=False, default="")  # the claims as the RLS checks set them
    pending: deque[Frame | object] = field(init=False, default_factory=deque)  # holds, and frames behind them

    def __post_init__(self) -> None:
        self.claims_json = json.dumps(self.claims, sort_keys=True)

    def authorize(self, token: str, claims: dict[str, Any]) -> None:
        """A new access token for this channel: private-channel write permission is checked again."""
        self.token, self.claims, self.can_write = token, claims, None
        self.claims_json = json.dumps(claims, sort_keys=True)

    @property
    def sub_topic(self) -> str:
        return self.topic.removeprefix("realtime:")

    @property
    def role(self) -> str:
        return str(self.claims.get("role") or "anon")

    def system(self, status: str, message: str, extension: str) -> None:
        payload = {"message": message, "status": status, "extension": extension, "channel": self.sub_topic}
        self.outbox.push(Frame(self.topic, "system", payload, None, self.join_ref))

    def deliver(self, frame: Frame) -> None:
        """Send a change event now, or behind the holds and events already waiting."""
        if self.pending:
            self.pending.append(frame)
        else:
            self.outbox.push(frame)

    def hold(self, holder: object) -> None:
        """Events delivered from now on wait until `holder` (a transaction finished later) releases them."""
        self.pending.append(holder)

    def release(self, holder: object) -> None:
        """Drop `holder`'s hold and send the events that no earlier hold keeps waiting."""
        # By identity, and without deque.remove: its "not in deque" error would format the holder's repr.
        at = next((n for n, item in enumerate(self.pending) if item is holder), None)
        if at is None:
            return
        del self.pending[at]
        while self.pending and isinstance(head := self.pending[0], Frame):
            self.pending.popleft()
            self.outbox.push(head)
