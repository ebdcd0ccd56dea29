"""Turn a parsed REST request into one SQL statement (plus how to answer its result)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devstack.rest.errors import ApiError, invalid_body
from devstack.rest.request import Preferences, QueryParams, parse_query
from devstack.rest.schema_cache import SchemaCache, Table
from devstack.rest.sql import Params, ReadBuilder, Source, read_statement
from devstack.rest.writes import (
    call_sql,
    choose_function,
    delete_cte,
    insert_cte,
    mutation_statement,
    returned_columns,
    returned_rows,
    rpc_statement,
    update_cte,
)


@dataclass
class Target:
    """What the request addresses and how it wants the answer."""

    method: str
    schema: str
    name: str
    rpc: bool
    media: str  # json | object | csv
    prefs: Preferences
    pairs: list[tuple[str, str]]
    range: tuple[int, int | None] | None
    body: bytes
    max_rows: int


@dataclass
class Plan:
    sql: str
    params: list[Any]
    action: str  # read | create | update | delete | rpc
    readonly: bool
    singular: bool
    offset: int = 0
    count: str | None = None
    count_sql: str | None = None
    count_params: list[Any] = field(default_factory=list)
    void: bool = False
    cache: SchemaCache | None = None  # the schema cache it was built from (plans are reused per cache)


def build(cache: SchemaCache, target: Target) -> Plan:
    if target.rpc:
        return _rpc(cache, target)
    table = cache.table(target.schema, target.name)
    query = parse_query(target.pairs)
    if target.method in ("GET", "HEAD"):
        return _read(cache, table, query, target)
    builder = ReadBuilder(cache, query.nodes, Params())
    singular = target.media == "object"
    rows = target.prefs.representation == "full"
    wanted = returned_columns(cache, table, query.select) if rows else None
    returning = returned_rows(target.prefs, wanted)
    if target.method == "POST":
        payload = _json_body(target.body)
        keys = _insert_keys(payload, query)
        cte = insert_cte(builder, table, keys, query, target.prefs, target.body.decode(), returning)
        action = "create"
    elif target.method == "PATCH":
        payload = _json_body(target.body)
        if not isinstance(payload, dict):
            raise invalid_body("Empty or invalid json")
        cte = update_cte(builder, table, list(payload), query, target.body.decode(), returning)
        action = "update"
    elif target.method == "DELETE":
        cte = delete_cte(builder, table, returning)
        action = "delete"
    else:
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {target.method}")
    sql = mutation_statement(builder, table, cte, query, singular=singular, rows=rows, columns=wanted)
    return Plan(sql, builder.params.values, action, False, singular, count=target.prefs.count)


def _read(cache: SchemaCache, table: Table, query: QueryParams, target: Target) -> Plan:
    node = query.node(())
    if target.range is not None and node.limit is None and node.offset == 0:
        node.offset, node.limit = target.range
    limit = min(node.limit, target.max_rows) if node.limit is not None else target.max_rows
    source = Source(table.name, table.columns, table)
    builder = ReadBuilder(cache, query.nodes, Params(), strip_nulls=target.media == "stripped")
    count = target.prefs.count
    sql = read_statement(
        builder,
        source,
        table.sql,
        query.select,
        limit,
        count=count in ("exact", "estimated"),
        singular=target.media == "object",
    )
    plan = Plan(sql, builder.params.values, "read", True, target.media == "object", node.offset, count)
    if count in ("planned", "estimated"):
        plan.count_sql, plan.count_params = _count_sql(cache, table, query)
    return plan


def _count_sql(cache: SchemaCache, table: Table, query: QueryParams) -> tuple[str, list[Any]]:
    """A statement whose EXPLAIN estimates the row count (`Prefer: count=planned`)."""
    builder = ReadBuilder(cache, query.nodes, Params())
    source = Source(table.name, table.columns, table)
    _, joins, inner = builder.select_list(source, "pgrst_0", query.select, ())
    conditions = [builder.condition(source, "pgrst_0", c) for c in builder.node(()).conditions]
    inner = joins if builder.filters_on_embeds else inner
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return f"explain (format json) select 1 from {table.sql} as pgrst_0 {' '.join(inner)}{where}", builder.params.values


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid_body("Empty or invalid json") from None


def _insert_keys(payload: Any, query: QueryParams) -> list[str]:
    rows = payload if isinstance(payload, list) else [payload]
    if not all(isinstance(r, dict) for r in rows):
        raise invalid_body("Empty or invalid json")
    if query.columns is not None or not rows:
        return query.columns or []
    keys = list(rows[0])
    if any(set(r) != set(keys) for r in rows[1:]):
        raise invalid_body("All object keys must match")
    return keys


def _rpc(cache: SchemaCache, target: Target) -> Plan:
    candidates = cache.functions.get((target.schema, target.name), [])
    post = target.method == "POST"
    if post:
        payload = _json_body(target.body) if target.body.strip() else {}
        args = payload if isinstance(payload, dict) else None
        keys = set(args or {})
        query = parse_query(target.pairs)
    elif target.method in ("GET", "HEAD"):
        names = frozenset(p.name for f in candidates for p in f.params)
        query = parse_query(target.pairs, names)
        keys = {k for k, _ in query.args}
        args = dict(query.args)
    else:
        raise ApiError(405, "PGRST101", f"Cannot use the {target.method} method on RPC")
    function = choose_function(candidates, target.schema, target.name, keys, post)
    builder = ReadBuilder(cache, query.nodes, Params())
    call, args_from = call_sql(builder, function, args, target.body.decode() if post else None)
    node = query.node(())
    limit = min(node.limit, target.max_rows) if node.limit is not None else target.max_rows
    sql = rpc_statement(
        builder,
        function,
        call,
        args_from,
        query,
        limit,
        count=target.prefs.count == "exact",
        singular=target.media == "object",
    )
    readonly = not post or function.volatility in ("s", "i")
    singular = target.media == "object"
    return Plan(
        sql,
        builder.params.values,
        "rpc",
        readonly,
        singular,
        node.offset,
        target.prefs.count,
        void=function.returns_void,
    )
