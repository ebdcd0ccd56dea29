"""Turn a parsed REST request into one SQL statement (plus how to answer its result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack import jsonlimits
from devstack.rest.errors import ApiError, invalid_body
from devstack.rest.request import Media, PlanRequest, Preferences, QueryParams, parse_query
from devstack.rest.rpc import call_sql, choose_function, rpc_statement
from devstack.rest.schema_cache import SchemaCache, Table
from devstack.rest.sql import Params, ReadBuilder, Source, read_statement
from devstack.rest.writes import (
    delete_cte,
    insert_cte,
    mutation_statement,
    returned_columns,
    returned_rows,
    update_cte,
)


@dataclass
class Target:
    """What the request addresses and how it wants the answer."""

    method: str
    schema: str
    name: str
    rpc: bool
    media: Media
    prefs: Preferences
    pairs: list[tuple[str, str]]
    range: tuple[int, int | None] | None
    body: bytes
    max_rows: int | None
    content_type: str = "application/json"
    aggregates: bool = False  # pgrst.db_aggregates_enabled
    bound: bool = False  # guard embeds' JSON (devstack.rest.guard)


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
    max_affected: int | None = None  # Prefer: handling=strict, max-affected=N
    explain: PlanRequest | None = None  # Accept: application/vnd.pgrst.plan…
    cache: SchemaCache | None = None  # the schema cache it was built from (plans are reused per cache)


def _builder(cache: SchemaCache, query: QueryParams, target: Target, *, strip: bool = False) -> ReadBuilder:
    return ReadBuilder(
        cache,
        query.nodes,
        Params(),
        strip_nulls=strip,
        max_rows=target.max_rows,
        aggregates=target.aggregates,
        bound=target.bound,
    )


def build(cache: SchemaCache, target: Target) -> Plan:
    if target.rpc:
        plan = _rpc(cache, target)
    else:
        table = cache.table(target.schema, target.name)
        query = parse_query(target.pairs)
        plan = (
            _read(cache, table, query, target)
            if target.method in ("GET", "HEAD")
            else _write(cache, table, query, target)
        )
    plan.explain = target.media.plan
    return plan


def _write(cache: SchemaCache, table: Table, query: QueryParams, target: Target) -> Plan:
    builder = _builder(cache, query, target, strip=target.media.strip)
    singular = target.media.kind == "object"
    rows = target.prefs.representation == "full"
    wanted = returned_columns(cache, table, query.select) if rows else None
    returning = returned_rows(target.prefs, wanted)
    if target.method == "POST":
        payload = json_body(target.body)
        keys = _insert_keys(payload, query)
        cte = insert_cte(builder, table, keys, query, target.prefs, target.body.decode(), returning)
        action = "create"
    elif target.method == "PATCH":
        payload = json_body(target.body)
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
    plan = Plan(sql, builder.params.values, action, False, singular, count=target.prefs.count)
    if action in ("update", "delete"):
        plan.max_affected = target.prefs.max_affected
    return plan


def _read(cache: SchemaCache, table: Table, query: QueryParams, target: Target) -> Plan:
    node = query.node(())
    if target.range is not None and node.limit is None and node.offset == 0:
        node.offset, node.limit = target.range
    limit = _cap(node.limit, target.max_rows)
    source = Source(table.name, table.columns, table)
    builder = _builder(cache, query, target, strip=target.media.strip)
    count = target.prefs.count
    singular = target.media.kind == "object"
    sql = read_statement(
        builder, source, table.sql, query.select, limit, count=count in ("exact", "estimated"), singular=singular
    )
    plan = Plan(sql, builder.params.values, "read", True, singular, node.offset, count)
    if count in ("planned", "estimated"):
        plan.count_sql, plan.count_params = _count_sql(cache, table, query, target)
    return plan


def _cap(limit: int | None, max_rows: int | None) -> int | None:
    if max_rows is None:
        return limit
    return max_rows if limit is None else min(limit, max_rows)


def _count_sql(cache: SchemaCache, table: Table, query: QueryParams, target: Target) -> tuple[str, list[Any]]:
    """A statement whose EXPLAIN estimates the row count (`Prefer: count=planned`)."""
    builder = _builder(cache, query, target)
    source = Source(table.name, table.columns, table)
    selection = builder.select_list(source, "pgrst_0", query.select, ())
    conditions = [builder.condition(source, "pgrst_0", c) for c in builder.node(()).conditions]
    joins = selection.joins if builder.filters_on_embeds else selection.inner_joins
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return f"explain (format json) select 1 from {table.sql} as pgrst_0 {' '.join(joins)}{where}", builder.params.values


def json_body(body: bytes) -> Any:
    """The JSON body (PGRST102 when it is not JSON or nests deeper than the devstack parses)."""
    try:
        return jsonlimits.loads(body or b"null")
    except jsonlimits.JsonTooDeep as exc:
        raise invalid_body(str(exc)) from None
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
    candidates = [f for f in cache.functions.get((target.schema, target.name), []) if f.callable]
    post = target.method == "POST"
    body_type = target.content_type.split(";")[0].strip().lower() or "application/json"
    raw_body = post and body_type in ("text/plain", "text/xml", "application/octet-stream")
    args: dict[str, Any] | None
    if post:
        payload = json_body(target.body) if target.body.strip() and not raw_body else {}
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
    function = choose_function(candidates, target.schema, target.name, keys, post, body_type)
    builder = _builder(cache, query, target, strip=target.media.strip)
    call, args_from = call_sql(builder, function, args, target.body if post else None, body_type)
    node = query.node(())
    limit = _cap(node.limit, target.max_rows)
    singular = target.media.kind == "object"
    sql = rpc_statement(
        builder, function, call, args_from, query, limit, count=target.prefs.count == "exact", singular=singular
    )
    readonly = not post or function.volatility in ("s", "i")
    plan = Plan(sql, builder.params.values, "rpc", readonly, singular, node.offset, target.prefs.count)
    plan.void = function.returns_void
    if target.prefs.max_affected is not None:
        if not function.returns_set:
            raise ApiError(
                400,
                "PGRST128",
                "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
            )
        plan.max_affected = target.prefs.max_affected
    return plan
