"""Build the SQL of insert/upsert, update, delete and RPC calls, each answered by one statement.

Bodies go to Postgres as one `jsonb` parameter and are typed by `jsonb_populate_record[set]` or
`jsonb_to_record`, so no value from the request is ever part of the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from devstack.rest.errors import ApiError, column_not_found, undefined_column
from devstack.rest.query import Column, SelectItem, Star
from devstack.rest.request import Preferences, QueryParams
from devstack.rest.schema_cache import SchemaCache, Table, quote_ident
from devstack.rest.sql import ReadBuilder, Source, read_statement


@dataclass(frozen=True)
class Statement:
    sql: str
    params: list[object]


def mutation_statement(
    builder: ReadBuilder,
    table: Table,
    cte: str,
    query: QueryParams,
    *,
    singular: bool,
    rows: bool,
    columns: list[str] | None,
) -> str:
    """The final select over `pgrst_source`: the returned rows as JSON, or only their count."""
    if not rows:
        count_only = "null::int8 as total, pg_catalog.count(*) as page_total, null::text as body"
        return f"with {cte} select {count_only} from pgrst_source"
    returned = table.columns if columns is None else {c: table.columns[c] for c in columns}
    source = Source(table.name, returned, table)
    extra = (
        ", (select pg_catalog.bool_or(pgrst_inserted) from pgrst_source) as inserted" if "pgrst_inserted" in cte else ""
    )
    read = read_statement(
        builder, source, "pgrst_source", query.select, None, count=False, singular=singular, where=False, extra=extra
    )
    return f"with {cte} {read}"


def insert_cte(
    builder: ReadBuilder,
    table: Table,
    keys: list[str],
    query: QueryParams,
    prefs: Preferences,
    body: str,
    returning: str,
) -> str:
    """`pgrst_source` for POST: insert (or upsert) the rows of the JSON body."""
    columns = query.columns if query.columns is not None else keys
    for name in columns:
        if name not in table.columns:
            raise column_not_found(table.name, name)
    body_param = builder.params.add(body, "::jsonb")
    target = table.sql
    values = []
    for name in columns:
        value = f"pgrst_r.{quote_ident(name)}"
        default = table.columns[name].default
        if prefs.missing_default:
            key = builder.params.add(name)
            value = f"case when pgrst_e.v ? {key} then {value} else {default or 'null'} end"
        values.append(value)
    rows = (
        f"pg_catalog.jsonb_array_elements(case when pg_catalog.jsonb_typeof({body_param}) = 'array'"
        f" then {body_param} else pg_catalog.jsonb_build_array({body_param}) end) as pgrst_e(v),"
        f" pg_catalog.jsonb_populate_record(null::{target}, pgrst_e.v) as pgrst_r"
    )
    column_list = ", ".join(quote_ident(c) for c in columns)
    if columns:
        insert = f"insert into {target} as pgrst_0 ({column_list}) select {', '.join(values)} from {rows}"
    else:
        insert = f"insert into {target} as pgrst_0 default values"
    return f"pgrst_source as ({insert}{_on_conflict(table, columns, query, prefs)} returning {returning})"


def returned_columns(cache: SchemaCache, table: Table, select: list[SelectItem]) -> list[str] | None:
    """The columns a mutation must return for its `select` (None: all), as few as PostgREST asks for.

    Returning only these keeps column-level SELECT grants working: `insert(...).select("id")` needs
    SELECT on `id` alone.
    """
    names: list[str] = []
    for item in select or [Star()]:
        if isinstance(item, Star):
            return None
        if isinstance(item, Column):
            if item.field.name in table.computed or item.field.name == "*" or item.aggregate is not None:
                return None  # computed fields and aggregates read the whole row
            names.append(item.field.name)
        else:
            rel = cache.relationship(table, item.name, item.hint)
            if rel.function is not None:
                return None  # a computed relationship takes the whole row
            names.extend(rel.source_columns)
    for name in names:
        if name not in table.columns:
            raise undefined_column(table.name, name)
    return list(dict.fromkeys(names))


def returned_rows(prefs: Preferences, columns: list[str] | None) -> str:
    """What RETURNING asks for: rows only when the client wants them back.

    `return=minimal` returns `1`, so inserting into a table the caller may not read (no SELECT grant or
    policy) works, as with PostgREST; the count still comes from the returned rows.
    """
    if prefs.representation != "full":
        return "1"
    rows = "pgrst_0.*" if columns is None else ", ".join(f"pgrst_0.{quote_ident(c)}" for c in columns) or "1"
    if prefs.resolution:
        rows += ", (pgrst_0.xmax = 0) as pgrst_inserted"
    return rows


def _on_conflict(table: Table, columns: list[str], query: QueryParams, prefs: Preferences) -> str:
    if prefs.resolution is None:
        return ""
    target = query.on_conflict or table.primary_key
    for name in target:
        if name not in table.columns:
            raise column_not_found(table.name, name)
    if not target:
        raise ApiError(
            400, "42P10", "there is no unique or exclusion constraint matching the ON CONFLICT specification"
        )
    conflict = ", ".join(quote_ident(c) for c in target)
    updates = [c for c in columns if c not in target] or list(target)
    if prefs.resolution == "ignore-duplicates":
        return f" on conflict ({conflict}) do nothing"
    assignments = ", ".join(f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in updates)
    return f" on conflict ({conflict}) do update set {assignments}"


def update_cte(
    builder: ReadBuilder, table: Table, keys: list[str], query: QueryParams, body: str, returning: str
) -> str:
    source = Source(table.name, table.columns, table)
    for name in keys:
        if name not in table.columns:
            raise column_not_found(table.name, name)
    conditions = [builder.condition(source, "pgrst_0", c) for c in builder.node(()).conditions]
    where = f" where {' and '.join(conditions)}" if conditions else ""
    if not keys:
        return f"pgrst_source as (select pgrst_0.* from {table.sql} as pgrst_0 where false)"
    body_param = builder.params.add(body, "::jsonb")
    assignments = ", ".join(f"{quote_ident(c)} = pgrst_body.{quote_ident(c)}" for c in keys)
    return (
        f"pgrst_source as (update {table.sql} as pgrst_0 set {assignments}"
        f" from pg_catalog.jsonb_populate_record(null::{table.sql}, {body_param}) as pgrst_body"
        f"{where} returning {returning})"
    )


def delete_cte(builder: ReadBuilder, table: Table, returning: str) -> str:
    source = Source(table.name, table.columns, table)
    conditions = [builder.condition(source, "pgrst_0", c) for c in builder.node(()).conditions]
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return f"pgrst_source as (delete from {table.sql} as pgrst_0{where} returning {returning})"
