"""RPC: pick the function a call means among its overloads, pass its arguments, shape its result.

As PostgREST (`findProc`): a function matches when the call's argument names cover its required
parameters and stay within its parameters; with none matching, a POST may reach a function with a single
unnamed parameter by its body's type (JSON for json/jsonb, text/plain for text, text/xml for xml,
application/octet-stream for bytea), which then gets the whole body. Functions with other unnamed
parameters are not callable. Two candidates or more: 300 PGRST203; none: 404 PGRST202.
"""

from __future__ import annotations

from typing import Any

from devstack.rest.errors import ApiError
from devstack.rest.request import QueryParams
from devstack.rest.schema_cache import UNNAMED_BODY_TYPES, Function, quote_ident
from devstack.rest.sql import ReadBuilder, Source, read_statement

_RAW_BODIES = ("text/plain", "text/xml", "application/octet-stream")


def choose_function(
    candidates: list[Function], schema: str, name: str, keys: set[str], post: bool, body_type: str
) -> Function:
    """The overload a call with these argument names (and body type) means."""
    matching = [f for f in candidates if _matches(f, keys, post, body_type)]
    fallback = [f for f in candidates if post and _takes_body(f, body_type)] if not matching else []
    found = matching or fallback
    if len(found) == 1:
        return found[0]
    if found:
        raise ApiError(
            300,
            "PGRST203",
            "Could not choose the best candidate function between: " + ", ".join(f.signature for f in found),
            hint="Try renaming the parameters or the function itself in the database so function overloading"
            " can be resolved",
        )
    listed = ", ".join(sorted(keys))
    signature = f"({listed})" if keys else " without parameters"
    searched = (f" with parameter{'s' if len(keys) > 1 else ''} {listed}" if keys else " without parameters") + (
        " or with a single unnamed json/jsonb parameter" if post else ""
    )
    raise ApiError(
        404,
        "PGRST202",
        f"Could not find the function {schema}.{name}{signature} in the schema cache",
        f"Searched for the function {schema}.{name}{searched}, but no matches were found in the schema cache.",
    )


def _matches(function: Function, keys: set[str], post: bool, body_type: str) -> bool:
    if not function.params:
        return not keys and not (post and body_type in _RAW_BODIES)
    return function.accepts(keys)


def _takes_body(function: Function, body_type: str) -> bool:
    """A single unnamed parameter of the type the body is (`application/json` for json and jsonb)."""
    if len(function.params) != 1 or function.params[0].name:
        return False
    return UNNAMED_BODY_TYPES.get(function.params[0].type.name) == body_type


def call_sql(
    builder: ReadBuilder, function: Function, args: dict[str, Any] | None, body: bytes | None, body_type: str
) -> tuple[str, str]:
    """The function call and the FROM source of its arguments: named args from the query or the JSON body,
    or the whole body for a single unnamed parameter."""
    if len(function.params) == 1 and not function.params[0].name:
        return _positional(builder, function, args, body, body_type), "(select) as pgrst_args"
    if body is not None:
        keys = set(args or {})
        params = [p for p in function.params if p.name and p.name in keys]
        if not params:
            return f"{function.sql}()", "(select) as pgrst_args"
        definition = ", ".join(f"{quote_ident(p.name)} {p.type.sql}" for p in params)
        call = ", ".join(f"{quote_ident(p.name)} => pgrst_args.{quote_ident(p.name)}" for p in params)
        source = (
            f"pg_catalog.jsonb_to_record({builder.params.add(body.decode(), '::jsonb')}) as pgrst_args({definition})"
        )
        return f"{function.sql}({call})", source
    given = args or {}
    call = ", ".join(
        f"{quote_ident(p.name)} => {builder.params.add(str(given[p.name]), '::text::' + p.type.sql)}"
        for p in function.params
        if p.name and p.name in given
    )
    return f"{function.sql}({call})", "(select) as pgrst_args"


def _positional(
    builder: ReadBuilder, function: Function, args: dict[str, Any] | None, body: bytes | None, body_type: str
) -> str:
    param = function.params[0]
    if body is None:  # GET: the value of the unnamed (`=value`) query parameter, if any
        given = (args or {}).get("")
        if given is None:
            return f"{function.sql}()"
        return f"{function.sql}({builder.params.add(str(given), '::text::' + param.type.sql)})"
    if param.type.name == "bytea":
        return f"{function.sql}({builder.params.add(body, '::bytea')})"
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "PGRST102", "Empty or invalid json") from None
    cast = "::jsonb" if body_type == "application/json" and param.type.name in ("json", "jsonb") else "::text"
    return f"{function.sql}({builder.params.add(text, cast + '::' + param.type.sql)})"


def rpc_statement(
    builder: ReadBuilder,
    function: Function,
    call: str,
    args_from: str,
    query: QueryParams,
    limit: int | None,
    *,
    count: bool,
    singular: bool,
) -> str:
    """Rows of a composite result go through the read builder (select, filters, order); scalars are wrapped."""
    if function.columns is not None:
        # Rows of a table type keep that table's relationships, so `select=*,rel(*)` embeds work on them.
        source = Source(function.name, function.columns, builder.cache.by_relid.get(function.return_type.relid))
        one = not function.returns_set
        from_sql = f"(select pgrst_f.* from {args_from} cross join lateral {call} as pgrst_f)"
        return read_statement(builder, source, from_sql, query.select, limit, count=count, singular=singular or one)
    if function.returns_void:
        return (
            "select null::int8 as total, 0::int8 as page_total, null::text as body"
            f" from (select {call} as pgrst_v from {args_from}) as pgrst_s"
        )
    if function.returns_set:
        rows = f"select pgrst_v from {args_from} cross join lateral {call} as pgrst_v{builder.range(limit, 0)}"
        return (
            "select null::int8 as total, pg_catalog.count(*) as page_total,"
            f" coalesce(pg_catalog.json_agg(pgrst_s.pgrst_v), '[]')::text as body from ({rows}) as pgrst_s"
        )
    return (
        "select 1::int8 as total, 1::int8 as page_total,"
        f" pg_catalog.to_json(pgrst_v)::text as body from (select {call} as pgrst_v from {args_from}) as pgrst_s"
    )
