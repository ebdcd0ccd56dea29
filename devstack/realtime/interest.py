"""Which joined bindings want a row change, without asking every binding about every row.

Per table and event (a route, built when a transaction first has such a change): the bindings without
a filter; the bindings whose one filter is `column=eq.value`, indexed by the value converted with the
column's type (a row finds them by one dictionary lookup per filtered column, as a frontend's
`user_id=eq.<me>` subscriptions do); and the rest, whose filters are evaluated per row. The answer is
the same as asking `filters.visible` of every binding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from devstack.realtime.catalog import TableInfo
from devstack.realtime.changes import Change, Members
from devstack.realtime.channel import Binding, Channel
from devstack.realtime.filters import visible

# Types whose values are converted as they are written (an `eq` filter matches the very same text).
TEXT_TYPES = frozenset({"text", "varchar", "uuid", "name"})
# (channel's position, binding's position): the order of today's channels and of their bindings.
Entry = tuple[int, int, Channel, Binding]


@dataclass
class Route:
    plain: list[Entry] = field(default_factory=list)
    by_value: dict[str, dict[Hashable, list[Entry]]] = field(default_factory=dict)
    other: list[Entry] = field(default_factory=list)
    everyone: Members | None = None  # with no filtered bindings: the members of every change, built once
    _texts: dict[Channel, set[str] | None] | None = None

    def texts(self, table: TableInfo) -> dict[Channel, set[str] | None]:
        """Per channel, the texts a row must hold for one of its bindings to want it, when each of them is
        `column=eq.<text>` on a column whose values are compared as they are written (TEXT_TYPES); None
        for a channel with any other binding here."""
        if self._texts is None:
            texts: dict[Channel, set[str] | None] = {entry[2]: None for entry in (*self.plain, *self.other)}
            for column, index in self.by_value.items():
                as_written = column in table.types and table.types[column].name in TEXT_TYPES
                for value, entries in index.items():
                    for _, _, channel, binding in entries:
                        known, written = texts.get(channel, set()), binding.conditions[0].value
                        if known is None or not as_written or not isinstance(written, str) or value != written:
                            texts[channel] = None
                        else:
                            texts[channel] = known | {written}
            self._texts = texts
        return self._texts

    @property
    def channels(self) -> set[Channel]:
        indexed = (entry for index in self.by_value.values() for entries in index.values() for entry in entries)
        return {entry[2] for entry in (*self.plain, *self.other, *indexed)}


def _indexable(table: TableInfo, binding: Binding) -> tuple[str, Hashable] | None:
    """(column, converted value) of a binding filtered by a single `eq`, else None."""
    if len(binding.conditions) != 1:
        return None
    condition = binding.conditions[0]
    pg_type = table.types.get(condition.column)
    if condition.op != "eq" or condition.negate or pg_type is None or not isinstance(condition.value, str):
        return None
    try:
        value = pg_type.convert(condition.value)
        hash(value)
    except (TypeError, ValueError):
        return None
    return condition.column, value


class Interest:
    """The bindings of a fixed list of channels (those watching changes when a transaction arrives)."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self._channels = list(channels)
        self._routes: dict[tuple[int, str], tuple[TableInfo, Route]] = {}

    def route(self, table: TableInfo, kind: str) -> Route:
        key = (table.relation.relid, kind)
        known = self._routes.get(key)
        if known is not None and known[0] is table:
            return known[1]
        route = Route()
        for position, channel in enumerate(self._channels):
            for order, binding in enumerate(channel.bindings):
                if not binding.matches(table.schema, table.name, kind):
                    continue
                entry = (position, order, channel, binding)
                indexed = None if not binding.conditions else _indexable(table, binding)
                if not binding.conditions:
                    route.plain.append(entry)
                elif indexed is not None:
                    route.by_value.setdefault(indexed[0], {}).setdefault(indexed[1], []).append(entry)
                else:
                    route.other.append(entry)
        self._routes[key] = (table, route)
        return route

    def members(self, change: Change) -> Members:
        """The channels that want `change`, each with its wanting binding ids grouped by column selection."""
        table = change.table
        route = self.route(table, change.kind)
        if route.everyone is not None:
            return route.everyone
        record = change.filter_record
        entries = list(route.plain)
        for column, index in route.by_value.items():
            raw = record.get(column)
            if raw is not None:
                try:
                    entries += index.get(table.types[column].convert(raw), ())
                except (TypeError, ValueError):
                    continue
        entries += [entry for entry in route.other if visible(entry[3].conditions, record, table.types)]
        members = _grouped(entries)
        if not route.by_value and not route.other:
            route.everyone = members
        return members


def _grouped(entries: list[Entry]) -> Members:
    """Per channel (in order), its bindings' ids grouped by column selection."""
    if not entries:
        return []
    if len(entries) > 1:
        entries.sort(key=lambda entry: (entry[0], entry[1]))
    grouped: dict[Channel, dict[tuple[str, ...] | None, list[int]]] = {}
    for _, _, channel, binding in entries:
        grouped.setdefault(channel, defaultdict(list))[binding.select].append(binding.id)
    return [(channel, select, ids) for channel, selects in grouped.items() for select, ids in selects.items()]
