"""Every joined channel of this gateway, indexed by broadcast topic and by postgres_changes interest."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

from devstack.realtime.channel import Channel
from devstack.realtime.presence import PresenceBook
from devstack.realtime.protocol import Frame

log = logging.getLogger("devstack.realtime")


class Hub:
    """In-process pub/sub: public and private channels of the same name are different topics."""

    def __init__(self) -> None:
        self._topics: dict[tuple[str, bool], set[Channel]] = defaultdict(set)
        self._pg: set[Channel] = set()
        self._wanted: dict[tuple[str, str, str], bool] = {}  # asked per streamed row: kept until a change
        self.presence = PresenceBook()

    def add(self, channel: Channel) -> None:
        self._topics[(channel.sub_topic, channel.private)].add(channel)

    def watch_changes(self, channel: Channel) -> None:
        if channel in self._topics.get((channel.sub_topic, channel.private), ()):
            self._pg.add(channel)
            self._wanted.clear()

    def remove(self, channel: Channel) -> None:
        key = (channel.sub_topic, channel.private)
        members = self._topics.get(key)
        if members is not None:
            members.discard(channel)
            if not members:
                del self._topics[key]
        if channel in self._pg:
            self._pg.discard(channel)
            self._wanted.clear()
        channel.pending.clear()
        self.presence.untrack(channel, self.members(channel))

    def members(self, channel: Channel) -> list[Channel]:
        """The channels joined to the same topic as `channel` (public and private topics differ)."""
        return list(self._topics.get((channel.sub_topic, channel.private), ()))

    def track(self, channel: Channel, payload: object) -> None:
        self.presence.track(channel, payload, self.members(channel))

    def untrack(self, channel: Channel) -> None:
        self.presence.untrack(channel, self.members(channel))

    def presence_state(self, channel: Channel) -> Frame:
        return Frame(channel.topic, "presence_state", self.presence.state((channel.sub_topic, channel.private)))

    @property
    def change_channels(self) -> list[Channel]:
        return list(self._pg)

    def watches(self, channel: Channel) -> bool:
        """Whether `channel` is still joined with Postgres Changes bindings."""
        return channel in self._pg

    def wants_change(self, schema: str, table: str, kind: str) -> bool:
        """Whether any joined channel has a Postgres Changes binding for this table and event."""
        key = (schema, table, kind)
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = any(
                binding.matches(schema, table, kind) for channel in self._pg for binding in channel.bindings
            )
        return wanted

    def broadcast(
        self,
        sub_topic: str,
        private: bool,
        event: str,
        payload: Any,
        *,
        sender: Channel | None = None,
        message_id: str | None = None,
    ) -> int:
        """Fan a broadcast out to the topic's channels; the sender gets it only with `self: true`."""
        meta = {"id": message_id or str(uuid.uuid4())}
        delivered = 0
        for channel in list(self._topics.get((sub_topic, private), ())):
            if channel is sender and not channel.self_broadcast:
                continue
            channel.outbox.push_broadcast(channel.topic, event, payload, meta)
            delivered += 1
        return delivered
