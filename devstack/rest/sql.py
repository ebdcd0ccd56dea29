"""Build the SQL of a read: columns, JSON paths, casts, embeds (lateral joins), filters, order and range.

Every identifier comes from the schema cache (or is a validated alias) and is quoted; every value from
the request is a bind parameter (`$n`). The statement returns the whole JSON body in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.rest.errors import ApiError, undefined_column
from devstack.rest.query import IS_VALUES, Column, Condition, Field, Filter, Logic, Node, Order, SelectItem, Star
from devstack.rest.schema_cache import Column as PgColumn
from devstack.rest.schema_cache import PgType, SchemaCache, Table, quote_ident

_COMPARE = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "isdistinct": "is distinct from"}
_TEXT_OPS = {"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*"}
_TYPED_OPS = {"cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-"}
_FTS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}


@dataclass
class Params:
    """Bind parameters in order; `add` returns the placeholder with the cast that types it."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any, cast: str = "::text") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


@dataclass(frozen=True)
class Source:
    """What a select reads from: a relation name in SQL, its columns and (for tables) its relationships."""

    label: str  # the name errors use (`todos`)
    columns: dict[str, PgColumn]
    table: Table | None = None


@dataclass(frozen=True)
class Item:
    """One output column of a select list: its SQL, its name, and how grouping treats it.

    `kind`: `value` (grouped by itself), `json` (an embed: grouped by its text), `agg` (an aggregate).
    `hoist` keeps an aggregate's parts, (function, input SQL or None for `count()`, output cast), so that
    a to-one spread can apply it at its parent's level, where its grouping makes sense.
    """

    sql: str
    name: str
    kind: str = "value"
    hoist: tuple[str, str | None, str | None] | None = None


@dataclass
class Selection:
    """A rendered select list: its items and the lateral joins its embeds need."""

    items: list[Item]
    joins: list[str] = field(default_factory=list)
    inner_joins: list[str] = field(default_factory=list)

    @property
    def aggregated(self) -> bool:
        return any(item.kind == "agg" for item in self.items)

    def render(self) -> str:
        if len(self.items) > MAX_TARGETS:
            raise ApiError(400, "54011", f"target lists can have at most {MAX_TARGETS} entries")
        grouped = self.aggregated
        return ", ".join(
            f"{f'({i.sql})::text::json' if grouped and i.kind == 'json' else i.sql} as {quote_ident(i.name)}"
            for i in self.items
        )

    def group_by(self) -> str:
        keys = [f"({i.sql})::text" if i.kind == "json" else i.sql for i in self.items if i.kind != "agg"]
        return f" group by {', '.join(keys)}" if self.aggregated and keys else ""


# Postgres's own limit on the entries of one select list (error 54011, a 500 in PostgREST): refused up front.
MAX_TARGETS = 1664


@dataclass
class ReadBuilder:
    cache: SchemaCache
    nodes: dict[tuple[str, ...], Node]
    params: Params
    counter: int = 0
    # (parent alias, embed key) → the lateral holding the embed, for `rel=is.null` / `rel=not.is.null` filters.
    laterals: dict[tuple[str, str], str] = field(default_factory=dict)
    filters_on_embeds: bool = False
    strip_nulls: bool = False  # Accept: …;nulls=stripped
    max_rows: int | None = None  # PostgREST's db-max-rows caps every embedded resource too
    aggregates: bool = False  # pgrst.db_aggregates_enabled
    bound: bool = False  # count the JSON built for embeds against the response limit (see devstack.rest.guard)

    def alias(self) -> str:
        self.counter += 1
        return f"pgrst_{self.counter}"

    def node(self, path: tuple[str, ...]) -> Node:
        return self.nodes.get(path) or Node()

    def guarded(self, json_sql: str) -> str:
        return f"pg_temp.devstack_bound({json_sql})" if self.bound else json_sql

    # -- select list -------------------------------------------------------------------------------------

    def select_list(self, source: Source, alias: str, items: list[SelectItem], path: tuple[str, ...]) -> Selection:
        """The items of `select` over `source` (as `alias`), with the lateral joins of their embeds."""
        from devstack.rest.embeds import embed

        selection = Selection([])
        for item in items:
            if isinstance(item, Star):
                selection.items.extend(Item(f"{quote_ident(alias)}.{quote_ident(c)}", c) for c in source.columns)
            elif isinstance(item, Column):
                selection.items.append(self._column(source, alias, item))
            else:
                embedded = embed(self, source, alias, item, path)
                selection.items.extend(embedded.items)
                selection.joins.append(embedded.join)
                if item.inner:
                    selection.inner_joins.append(embedded.join)
        return selection

    def _column(self, source: Source, alias: str, item: Column) -> Item:
        if item.aggregate is None and self._legacy_count(source, item):
            return Item("pg_catalog.count(*)", item.alias or "count", "agg", ("count", None, None))
        if item.aggregate is not None:
            if not self.aggregates:
                raise ApiError(400, "PGRST123", "Use of aggregate functions is not allowed")
            argument = None if item.field.name == "*" else self._value(source, alias, item.field, item.cast)
            sql = self.cast_to(f"pg_catalog.{item.aggregate}({argument or '*'})", item.aggregate_cast)
            return Item(sql, item.output_name, "agg", (item.aggregate, argument, item.aggregate_cast))
        return Item(self._value(source, alias, item.field, item.cast), item.output_name)

    def _legacy_count(self, source: Source, item: Column) -> bool:
        """`select=count` / `rel(count)`, from before aggregates: allowed even when they are disabled."""
        return item.field == Field("count") and item.cast is None and not self._is_field(source, "count")

    def _is_field(self, source: Source, name: str) -> bool:
        return name in source.columns or (source.table is not None and name in source.table.computed)

    def _value(self, source: Source, alias: str, fld: Field, cast: str | None) -> str:
        sql, _ = self.field(source, alias, fld)
        return self.cast_to(sql, cast)

    def cast_to(self, sql: str, cast: str | None) -> str:
        if cast is None:
            return sql
        pg_type = self.cache.cast_type(cast.removesuffix("[]"))
        if pg_type is None:
            raise ApiError(400, "42704", f'type "{cast}" does not exist')
        target = pg_type.sql
        if cast.endswith("[]"):
            array = self.cache.types.get(pg_type.array_oid)
            if array is None:
                raise ApiError(400, "42704", f'type "{cast}" does not exist')
            target = array.sql
        return f"({sql})::{target}"

    def field(self, source: Source, alias: str, fld: Field) -> tuple[str, PgType | None]:
        """SQL of a column, computed field or JSON path, and its type (None for `->>`, which yields text)."""
        column = source.columns.get(fld.name)
        computed = source.table.computed.get(fld.name) if source.table is not None and column is None else None
        if column is not None:
            sql = f"{quote_ident(alias)}.{quote_ident(fld.name)}"
            pg_type: PgType | None = column.type
        elif computed is not None:
            sql = f"{computed.sql}({quote_ident(alias)})"
            pg_type = computed.return_type
        else:
            raise undefined_column(source.label, fld.name)
        for arrow, key in fld.path:
            placeholder = self.params.add(key, "::int4" if isinstance(key, int) else "::text")
            sql = f"({sql} {arrow} {placeholder})"
            pg_type = None if arrow == "->>" else pg_type
        return sql, pg_type

    # -- filters, order, range ---------------------------------------------------------------------------

    def condition(self, source: Source, alias: str, cond: Condition) -> str:
        if isinstance(cond, Logic):
            glue = f" {cond.conjunction} "
            sql = "(" + glue.join(self.condition(source, alias, c) for c in cond.items) + ")"
        else:
            sql = self._filter(source, alias, cond)
        return f"not {sql}" if cond.negate else sql

    def _filter(self, source: Source, alias: str, flt: Filter) -> str:
        lateral = self.laterals.get((alias, flt.field.name)) if not flt.field.path else None
        if lateral is not None:
            if flt.op != "is" or str(flt.value).lower() not in ("null", "not_null"):
                raise ApiError(
                    400,
                    "PGRST120",
                    f"Bad operator on the '{flt.field.name}' embedded resource",
                    "Only is null or not is null filters are allowed on embedded resources",
                )
            self.filters_on_embeds = True
            return f"({quote_ident(lateral)}.pgrst_v is {IS_VALUES[str(flt.value).lower()]})"
        lhs, pg_type = self.field(source, alias, flt.field)
        cast = f"::text::{pg_type.sql}" if pg_type is not None and pg_type.name != "text" else "::text"
        op, value = flt.op, flt.value
        if op == "is":
            return f"({lhs} is {IS_VALUES[str(value).lower()]})"
        if op == "in" or flt.quantifier:
            items = list(value)
            if op in ("like", "ilike"):
                items = [v.replace("*", "%") for v in items]
            array_cast = self._array_cast(source, flt.field, pg_type) if op in _COMPARE or op == "in" else "::text[]"
            sql_op = "=" if op == "in" else (_COMPARE.get(op) or _TEXT_OPS[op])
            return f"({lhs} {sql_op} {flt.quantifier or 'any'}({self.params.add(items, array_cast)}))"
        assert isinstance(value, str)
        if op in _COMPARE:
            return f"({lhs} {_COMPARE[op]} {self.params.add(value, cast)})"
        if op in _TEXT_OPS:
            text = value.replace("*", "%") if op in ("like", "ilike") else value
            return f"({lhs} {_TEXT_OPS[op]} {self.params.add(text)})"
        if op in _TYPED_OPS:
            return f"({lhs} {_TYPED_OPS[op]} {self.params.add(value, cast)})"
        return self._fts(lhs, pg_type, flt)

    def _array_cast(self, source: Source, fld: Field, pg_type: PgType | None) -> str:
        if pg_type is None or pg_type.name == "text":
            return "::text[]"
        array = self.cache.types.get(pg_type.array_oid)
        if array is None:
            raise ApiError(400, "42883", f"operator does not exist for column {source.label}.{fld.name}")
        return f"::text[]::{array.sql}"

    def _fts(self, lhs: str, pg_type: PgType | None, flt: Filter) -> str:
        function = _FTS[flt.op]
        language = f"{self.params.add(flt.language, '::text::regconfig')}, " if flt.language else ""
        vector = (
            lhs if pg_type is not None and pg_type.name == "tsvector" else f"pg_catalog.to_tsvector({language}{lhs})"
        )
        return f"({vector} @@ pg_catalog.{function}({language}{self.params.add(flt.value)}))"

    def order_by(self, source: Source, alias: str, terms: list[Order]) -> str:
        if not terms:
            return ""
        parts = []
        for term in terms:
            sql, _ = self.field(source, alias, term.field)
            nulls = f" nulls {term.nulls}" if term.nulls else ""
            parts.append(f"{sql} {'desc' if term.descending else 'asc'}{nulls}")
        return " order by " + ", ".join(parts)

    def range(self, limit: int | None, offset: int) -> str:
        sql = f" limit {self.params.add(limit, '::int8')}" if limit is not None else ""
        return sql + (f" offset {self.params.add(offset, '::int8')}" if offset else "")


def read_statement(
    builder: ReadBuilder,
    source: Source,
    from_sql: str,
    items: list[SelectItem],
    limit: int | None,
    *,
    count: bool,
    singular: bool,
    where: bool = True,
    extra: str = "",
) -> str:
    """One statement answering (total, page_total, body) for the top level of a request."""
    alias = "pgrst_0"
    node = builder.node(())
    selection = builder.select_list(source, alias, items, ())
    conditions = [builder.condition(source, alias, c) for c in node.conditions] if where else []
    where_sql = f" where {' and '.join(conditions)}" if conditions else ""
    base = f"{from_sql} as {alias}"
    count_joins = selection.joins if builder.filters_on_embeds else selection.inner_joins
    total = f"(select pg_catalog.count(*) from {base} {' '.join(count_joins)}{where_sql})" if count else "null::int8"
    page = (
        f"select {selection.render()} from {base} {' '.join(selection.joins)}{where_sql}{selection.group_by()}"
        f"{builder.order_by(source, alias, node.order)}{builder.range(limit, node.offset)}"
    )
    row = "pg_catalog.json_strip_nulls(pg_catalog.row_to_json(pgrst_t))" if builder.strip_nulls else "pgrst_t"
    body = (
        f"coalesce((pg_catalog.json_agg({row}) -> 0)::text, 'null')"
        if singular
        else f"coalesce(pg_catalog.json_agg({row}), '[]')::text"
    )
    return (
        f"select {total} as total, pg_catalog.count(pgrst_t) as page_total, {body} as body{extra}"
        f" from ({page}) as pgrst_t"
    )
