"""In-process property: whatever the query string, request values end up in bind parameters, never in SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.rest.errors import ApiError
from devstack.rest.plan import Target, build
from devstack.rest.request import Media, Preferences
from devstack.rest.schema_cache import SchemaCache, load
from tests.rest.conftest import RestStack

MARK = "Zq9"  # never part of a name in the test schema


class Cache:
    """Holds the cache out of sight of hypothesis, which prints fixtures (dataclasses field by field)."""

    def __init__(self, cache: SchemaCache) -> None:
        self.cache = cache

    def __repr__(self) -> str:
        return "<schema cache>"


@pytest.fixture(scope="module")
def cache(rest: RestStack) -> Iterator[Cache]:
    async def fetch() -> Cache:
        conn = await asyncpg.connect(rest.dsn)
        try:
            loaded = await load(conn, ["public"])
            return Cache(loaded)
        finally:
            await conn.close()

    yield asyncio.run(fetch())


PAYLOAD = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20).map(lambda s: MARK + s)
COLUMNS = st.sampled_from(["id", "title", "n", "s", "tags", "data", "data->>k", "data->k", "span", "d", "doc"])
OPS = st.sampled_from(
    ["eq", "neq", "gt", "lt", "like", "ilike", "match", "isdistinct", "cs", "cd", "ov", "sl", "adj", "fts", "wfts"]
)


@st.composite
def filters(draw: st.DrawFn) -> tuple[str, str]:
    column, op, value = draw(COLUMNS), draw(OPS), draw(PAYLOAD)
    kind = draw(st.sampled_from(["plain", "not", "in", "any", "or", "json"]))
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind == "not":
        return column, f"not.{op}.{value}"
    if kind == "in":
        return column, f"in.({quoted},{quoted})"
    if kind == "any":
        return column, f"eq(any).{{{quoted}}}"
    if kind == "or":
        return "or", f"({column}.{op}.{quoted},id.eq.{quoted})"
    if kind == "json":
        # Output names are identifiers (validated, quoted), so the path's key gets an alias here.
        return "select", f"id,v:data->{quoted}->>{quoted}"
    return column, f"{op}.{value}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(filters(), min_size=1, max_size=4), method=st.sampled_from(["GET", "PATCH", "DELETE"]))
def test_values_only_reach_sql_as_parameters(cache: Cache, pairs: list[tuple[str, str]], method: str) -> None:
    prefs = Preferences(representation="full")
    target = Target(method, "public", "todos", False, Media(), prefs, pairs, None, b'{"title": "t"}', 1000)
    try:
        plan = build(cache.cache, target)
    except ApiError as exc:
        assert exc.status < 500
        return
    assert MARK not in plan.sql
    assert any(MARK in str(p) for p in plan.params)


@given(args=st.dictionaries(st.sampled_from(["a", "b"]), PAYLOAD, min_size=2))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rpc_arguments_are_parameters(cache: Cache, args: dict[str, str]) -> None:
    target = Target("GET", "public", "add", True, Media(), Preferences(), list(args.items()), None, b"", 1000)
    plan = build(cache.cache, target)
    assert MARK not in plan.sql and sorted(str(p) for p in plan.params) == sorted(args.values())
