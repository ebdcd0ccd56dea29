"""Presence: who is tracked on each topic, as Phoenix.Presence reports it (`presence_state`, `presence_diff`).

State is per gateway process (the devstack runs one). A channel tracks at most one meta under its
presence key; tracking again replaces it (a leave of the old meta and a join of the new one), untrack,
phx_leave and a closed socket send the leave.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any

from devstack.realtime.channel import Channel
from devstack.realtime.protocol import Frame

Topic = tuple[str, bool]  # (sub_topic, private)


class PresenceBook:
    def __init__(self) -> None:
        self._tracked: dict[Topic, dict[Channel, dict[str, Any]]] = defaultdict(dict)

    def state(self, topic: Topic) -> dict[str, dict[str, list[dict[str, Any]]]]:
        state: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for channel, meta in self._tracked.get(topic, {}).items():
            state.setdefault(channel.presence_key, {"metas": []})["metas"].append(meta)
        return state

    def track(self, channel: Channel, payload: Any, members: list[Channel]) -> None:
        topic = (channel.sub_topic, channel.private)
        previous = self._tracked[topic].get(channel)
        meta = {**(payload if isinstance(payload, dict) else {}), "phx_ref": secrets.token_urlsafe(12)}
        if previous is not None:
            meta["phx_ref_prev"] = previous["phx_ref"]
        self._tracked[topic][channel] = meta
        leaves = {channel.presence_key: {"metas": [previous]}} if previous else {}
        _diff(members, {channel.presence_key: {"metas": [meta]}}, leaves)

    def untrack(self, channel: Channel, members: list[Channel]) -> None:
        topic = (channel.sub_topic, channel.private)
        meta = self._tracked.get(topic, {}).pop(channel, None)
        if not self._tracked.get(topic):
            self._tracked.pop(topic, None)
        if meta is not None:
            _diff(members, {}, {channel.presence_key: {"metas": [meta]}})


def _diff(members: list[Channel], joins: dict[str, Any], leaves: dict[str, Any]) -> None:
    for member in members:
        member.outbox.push(Frame(member.topic, "presence_diff", {"joins": joins, "leaves": leaves}))
