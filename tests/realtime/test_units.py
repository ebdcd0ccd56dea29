"""Pure pieces of the Realtime server: pgoutput decoding, value conversion, binding filters, who wants a change
and the order of held events."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.realtime import pgoutput
from devstack.realtime.catalog import TableInfo
from devstack.realtime.changes import Change
from devstack.realtime.channel import Binding, Channel, binding_id
from devstack.realtime.feed import ChangeFeed
from devstack.realtime.filters import FilterError, parse, visible
from devstack.realtime.interest import Interest
from devstack.realtime.protocol import Frame
from devstack.realtime.values import PgType, convert, make_type


def _type(name: str, *, category: str = "N", elem: str | None = None) -> PgType:
    row = {"oid": 1, "typname": name, "typtype": "b", "typcategory": category, "basename": None, "elemname": elem}
    return make_type({**row, "sqltype": name})


@pytest.mark.parametrize(
    ("type_name", "text", "expected"),
    [
        ("int8", "12", 12),
        ("numeric", "0.1", 0.1),
        ("numeric", "NaN", "NaN"),
        ("float8", "Infinity", "Infinity"),
        ("bool", "f", False),
        ("jsonb", '{"a": [1]}', {"a": [1]}),
        ("timestamp", "2024-02-29 13:14:15.5", "2024-02-29T13:14:15.5"),
        ("timestamptz", "2024-02-29 11:14:15.123456+00", "2024-02-29T11:14:15.123456+00:00"),
        ("bytea", "\\x0102ff", "\\x0102ff"),
        ("interval", "1 day 02:03:04", "1 day 02:03:04"),
    ],
)
def test_values_convert_like_to_jsonb(type_name: str, text: str, expected: object) -> None:
    assert convert(_type(type_name), text) == expected


def test_arrays_convert_element_wise() -> None:
    assert convert(_type("_int4", category="A", elem="int4"), "{1,NULL,3}") == [1, None, 3]
    assert convert(_type("_text", category="A", elem="text"), '{"a b","c,d",NULL,"q\\"x"}') == [
        "a b",
        "c,d",
        None,
        'q"x',
    ]
    assert convert(_type("_int4", category="A", elem="int4"), "{{1,2},{3,4}}") == [[1, 2], [3, 4]]


def test_filters_compare_with_the_column_type() -> None:
    types = {"n": _type("int4"), "s": _type("text")}
    (gt,) = parse("n=gt.9")
    assert gt.holds({"n": "10"}, types)  # 10 > 9 as numbers, not as strings
    (inside,) = parse("s=in.(a,b)")
    assert inside.holds({"s": "b"}, types) and not inside.holds({"s": "c"}, types)
    (negated,) = parse("s=not.eq.a")
    assert negated.holds({"s": "b"}, types)
    (is_null,) = parse("s=is.null")
    assert is_null.holds({"s": None}, types)
    both = parse("n=gt.1,s=eq.x")
    assert len(both) == 2


def test_filters_on_columns_a_change_lacks() -> None:
    """As realtime.is_visible_through_filters: filters join the change's columns; with none, no event."""
    types = {"n": _type("int4"), "s": _type("text")}
    both = parse("n=gt.1,s=eq.x")
    assert visible(both, {"n": "2"}, types)  # `s` absent (a DELETE's key only): judged on `n`
    assert not visible(both, {"n": "0"}, types)
    assert not visible(parse("s=eq.x"), {"n": "2"}, types)  # no filtered column at all: not sent
    assert visible((), {}, types)  # no filter: everything


@pytest.mark.parametrize("text", ["undefined", "n=foo.1", "n=in.1,2", "=eq.1"])
def test_bad_filters_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse(text)


def _tuple(*values: str | None) -> bytes:
    out = struct.pack("!h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        else:
            out += b"t" + struct.pack("!i", len(value)) + value.encode()
    return out


def test_pgoutput_messages_decode() -> None:
    relation = (
        b"R" + struct.pack("!I", 16400) + b"public\0items\0d" + struct.pack("!h", 2)
        + struct.pack("!b", 1) + b"id\0" + struct.pack("!Ii", 20, -1)
        + struct.pack("!b", 0) + b"body\0" + struct.pack("!Ii", 25, -1)
    )  # fmt: skip
    decoded = pgoutput.decode(relation)
    assert isinstance(decoded, pgoutput.Relation)
    assert (decoded.schema, decoded.name, [c.is_key for c in decoded.columns]) == ("public", "items", [True, False])

    insert = pgoutput.decode(b"I" + struct.pack("!I", 16400) + b"N" + _tuple("1", "hi"))
    assert insert == pgoutput.RowChange("INSERT", 16400, ["1", "hi"], None, False)
    update = pgoutput.decode(b"U" + struct.pack("!I", 16400) + b"K" + _tuple("1", None) + b"N" + _tuple("2", "x"))
    assert isinstance(update, pgoutput.RowChange) and update.old == ["1", None] and update.old_is_key
    delete = pgoutput.decode(b"D" + struct.pack("!I", 16400) + b"O" + _tuple("1", "hi"))
    assert isinstance(delete, pgoutput.RowChange) and delete.kind == "DELETE" and not delete.old_is_key
    commit = pgoutput.decode(b"C" + struct.pack("!bQQq", 0, 100, 200, 0))
    assert isinstance(commit, pgoutput.Commit) and commit.end_lsn == 200
    assert commit.commit_time == pgoutput.PG_EPOCH
    assert pgoutput.decode(b"Y" + b"\0" * 8) is None


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("s=like.ab%", "abc", True),
        ("s=like.a_c", "abc", True),
        ("s=like.a_c", "abbc", False),
        ("s=ilike.AB%", "abc", True),
        ("s=match.^a.c$", "abc", True),
        ("s=imatch.^A", "abc", True),
        ("s=isdistinct.abc", None, True),
        ("s=isdistinct.abc", "abc", False),
        ("s=not.like.ab%", "abc", False),
    ],
)
def test_pattern_operators(text: str, value: str | None, expected: bool) -> None:
    (condition,) = parse(text)
    assert condition.holds({"s": value}, {"s": _type("text")}) is expected


def test_the_feed_decodes_only_row_changes_someone_listens_to() -> None:
    asked: list[tuple[str, str]] = []

    def wants(table: TableInfo, kind: str) -> bool:
        asked.append((table.name, kind))
        return kind == "INSERT"

    async def sink(conn: object, changes: object, raw: object) -> None:
        return None

    feed = ChangeFeed("postgresql://unused", sink, wants)  # type: ignore[arg-type]
    relation = pgoutput.Relation(16400, "public", "items", "d", (pgoutput.RelationColumn("id", 20, True),))
    feed.catalog._tables[16400] = TableInfo(relation, {}, ("id",), False, 0.0)
    head = struct.pack("!I", 16400)
    assert feed._wanted(b"I" + head + b"N" + _tuple("1"))
    assert not feed._wanted(b"U" + head + b"N" + _tuple("1"))
    assert not feed._wanted(b"D" + head + b"K" + _tuple("1"))
    assert asked == [("items", "INSERT"), ("items", "UPDATE"), ("items", "DELETE")]
    # A relation not learnt yet is decoded (and learnt from its R message first, as pgoutput sends it).
    assert feed._wanted(b"U" + struct.pack("!I", 99999) + b"N" + _tuple("1"))


class _Outbox:
    vsn = "1.0.0"

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def push(self, frame: Frame) -> None:
        self.frames.append(frame)

    def push_broadcast(self, topic: str, event: str, payload: Any, meta: dict[str, Any] | None) -> None:
        raise AssertionError("no broadcasts here")


def _channel(outbox: _Outbox, *filters: str, user: str = "u") -> Channel:
    claims = {"sub": user, "role": "authenticated"}
    channel = Channel(outbox, f"realtime:{user}", "1", False, False, False, "token", claims)
    channel.bindings = [
        Binding(binding_id({"n": n}), "*", "public", "items", parse(text or None)) for n, text in enumerate(filters)
    ]
    return channel


def test_interest_finds_the_bindings_that_filters_would() -> None:
    """The eq index and the per-row filters give the same members as asking every binding."""
    columns = (pgoutput.RelationColumn("id", 20, True), pgoutput.RelationColumn("owner", 25, False))
    relation = pgoutput.Relation(16401, "public", "items", "d", (*columns, pgoutput.RelationColumn("n", 23, False)))
    table = TableInfo(relation, {"id": _type("int8"), "owner": _type("text"), "n": _type("int4")}, ("id",), True, 0.0)
    outbox = _Outbox()
    filters = ["", "owner=eq.a", "owner=eq.b", "n=eq.07", "n=gt.5", "owner=neq.a", "n=eq.1,owner=eq.a", "id=in.(1,2)"]
    channels = [_channel(outbox, text, user=str(i)) for i, text in enumerate(filters)]
    channels.append(_channel(outbox, "owner=eq.a", "", "n=eq.7", user="several"))
    interest = Interest(channels)
    for new in ({"id": "1", "owner": "a", "n": "7"}, {"id": "3", "owner": "b", "n": "1"}, {"id": "2", "owner": None}):
        for kind, old in (("INSERT", {}), ("DELETE", {"id": new["id"]})):
            change = Change(table, kind, datetime.now(UTC), new if kind == "INSERT" else {}, old, 1, 1)
            expected = []
            for channel in channels:
                ids = [b.id for b in channel.bindings if visible(b.conditions, change.filter_record, table.types)]
                if ids:
                    expected.append((channel, None, ids))
            assert interest.members(change) == expected
    # What a bulk write's rows are searched for before decoding: only eq filters on text compared as written.
    texts = interest.route(table, "INSERT").texts(table)
    assert texts[channels[1]] == {"a"} and texts[channels[2]] == {"b"}
    assert texts[channels[0]] is None and texts[channels[3]] is None  # no filter; an int compared as a number
    assert texts[channels[-1]] is None  # also an unfiltered binding


def test_held_channels_get_their_events_in_order() -> None:
    outbox = _Outbox()
    channel = _channel(outbox, "")
    first, second = object(), object()
    frames = [Frame(channel.topic, "postgres_changes", {"n": n}) for n in range(4)]
    channel.deliver(frames[0])
    channel.hold(first)
    channel.deliver(frames[1])
    channel.hold(second)
    channel.deliver(frames[2])
    channel.release(second)  # an earlier hold still keeps frames 1 and 2 waiting
    assert outbox.frames == frames[:1]
    channel.release(first)
    channel.release(first)  # released twice: nothing more
    assert outbox.frames == frames[:3]
    channel.deliver(frames[3])
    assert outbox.frames == frames
