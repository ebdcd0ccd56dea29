"""Build the SQL of a read: columns, JSON paths, casts, embeds (lateral joins), filters, order and range.

Every identifier comes from the schema cache (or is a validated alias) and is quoted; every value from
the request is a bind parameter (`$n`). The statement returns the whole JSON body in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.rest.errors import ApiError, undefined_column
from devstack.rest.query import IS_VALUES, Column, Condition, Embed, Field, Filter, Logic, Node, Order, SelectItem, Star
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


@dataclass
class ReadBuilder:
    cache: SchemaCache
    nodes: dict[tuple[str, ...], Node]
    params: Params
    counter: int = 0
    # (parent alias, embed key) → the lateral holding the embed, for `rel=is.null` / `rel=not.is.null` filters.
    laterals: dict[tuple[str, str], str] = field(default_factory=dict)
    filters_on_embeds: bool = False
    strip_nulls: bool = False  # Accept: application/vnd.pgrst.array+json;nulls=stripped

    def alias(self) -> str:
        self.counter += 1
        return f"pgrst_{self.counter}"

    def node(self, path: tuple[str, ...]) -> Node:
        return self.nodes.get(path) or Node()

    # -- select list -------------------------------------------------------------------------------------

    def select_list(
        self, source: Source, alias: str, items: list[SelectItem], path: tuple[str, ...]
    ) -> tuple[list[str], list[str], list[str]]:
        """Return (select expressions, all lateral joins, the joins of `!inner` embeds only)."""
        exprs: list[str] = []
        joins: list[str] = []
        inner_joins: list[str] = []
        for item in items or [Star()]:
            if isinstance(item, Star):
                exprs.extend(f"{quote_ident(alias)}.{quote_ident(c)}" for c in source.columns)
            elif isinstance(item, Column):
                exprs.append(self._column(source, alias, item))
            else:
                expr, join = self._embed(source, alias, item, path)
                exprs.append(expr)
                joins.append(join)
                if item.inner:
                    inner_joins.append(join)
        return exprs, joins, inner_joins

    def _column(self, source: Source, alias: str, item: Column) -> str:
        sql, _ = self.field(source, alias, item.field)
        if item.cast is not None:
            pg_type = self.cache.cast_type(item.cast.removesuffix("[]"))
            if pg_type is None:
                raise ApiError(400, "42704", f'type "{item.cast}" does not exist')
            target = pg_type.sql
            if item.cast.endswith("[]"):
                array = self.cache.types.get(pg_type.array_oid)
                if array is None:
                    raise ApiError(400, "42704", f'type "{item.cast}" does not exist')
                target = array.sql
            sql = f"({sql})::{target}"
        return f"{sql} as {quote_ident(item.alias or item.field.output_name)}"

    def field(self, source: Source, alias: str, fld: Field) -> tuple[str, PgType | None]:
        """SQL of a column or JSON path, and its type (None for `->>`, which yields text)."""
        column = source.columns.get(fld.name)
        if column is None:
            raise undefined_column(source.label, fld.name)
        sql = f"{quote_ident(alias)}.{quote_ident(fld.name)}"
        pg_type: PgType | None = column.type
        for arrow, key in fld.path:
            placeholder = self.params.add(key, "::int4" if isinstance(key, int) else "::text")
            sql = f"({sql} {arrow} {placeholder})"
            pg_type = None if arrow == "->>" else pg_type
        return sql, pg_type

    def _embed(self, source: Source, alias: str, embed: Embed, path: tuple[str, ...]) -> tuple[str, str]:
        if source.table is None:
            raise ApiError(
                400,
                "PGRST200",
                f"Could not find a relationship between '{source.label}' and '{embed.name}' in the schema cache",
            )
        rel = self.cache.relationship(source.table, embed.name, embed.hint)
        child_path = (*path, embed.key)
        child_alias, lateral = self.alias(), self.alias()
        child = Source(rel.target.name, rel.target.columns, rel.target)
        exprs, joins, _ = self.select_list(child, child_alias, embed.select, child_path)
        node = self.node(child_path)
        where = [
            f"{quote_ident(child_alias)}.{quote_ident(tc)} = {quote_ident(alias)}.{quote_ident(sc)}"
            for sc, tc in zip(rel.source_columns, rel.target_columns, strict=True)
        ]
        where += [self.condition(child, child_alias, c) for c in node.conditions]
        inner = (
            f"select {', '.join(exprs) or 'null'} from {rel.target.sql} as {quote_ident(child_alias)}"
            f" {' '.join(joins)} where {' and '.join(where)}"
            f"{self.order_by(child, child_alias, node.order)}{self.range(node.limit, node.offset)}"
        )
        row = self.alias()
        self.laterals[(alias, embed.key)] = lateral
        lat = quote_ident(lateral)
        join_kind = "inner join lateral" if embed.inner else "left join lateral"
        if embed.spread:
            spread = self._spread(source, embed, child, lat, rel.to_one)
            return spread, f"{join_kind} ({body_one(row, inner)}) as {lat} on true"
        if rel.to_one:
            body = body_one(row, inner)
            return f"{lat}.pgrst_v as {quote_ident(embed.key)}", f"{join_kind} ({body}) as {lat} on true"
        body = f"select pg_catalog.json_agg({row}) as pgrst_v from ({inner}) as {row}"
        if embed.inner:
            join = f"inner join lateral ({body}) as {lat} on {lat}.pgrst_v is not null"
        else:
            join = f"left join lateral ({body}) as {lat} on true"
        return f"coalesce({lat}.pgrst_v, '[]') as {quote_ident(embed.key)}", join

    def _spread(self, source: Source, embed: Embed, child: Source, lat: str, to_one: bool) -> str:
        """`...rel(a, b)`: the embedded row's keys as the parent's own columns (to-one relationships only)."""
        if not to_one:
            raise ApiError(
                400,
                "PGRST119",
                f"A spread operation on '{embed.name}' is not possible",
                f"'{source.label}' and '{embed.name}' do not form a many-to-one or one-to-one relationship",
            )
        names = self.output_names(child, embed.select)
        return ", ".join(f"({lat}.pgrst_v -> {self.params.add(n)}) as {quote_ident(n)}" for n in names)

    def output_names(self, source: Source, items: list[SelectItem]) -> list[str]:
        names: list[str] = []
        for item in items or [Star()]:
            if isinstance(item, Star):
                names.extend(source.columns)
            elif isinstance(item, Column):
                names.append(item.alias or item.field.output_name)
            elif item.spread and source.table is not None:
                target = self.cache.relationship(source.table, item.name, item.hint).target
                names.extend(self.output_names(Source(target.name, target.columns, target), item.select))
            else:
                names.append(item.key)
        return names

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


def body_one(row: str, inner: str) -> str:
    return f"select pg_catalog.row_to_json({row}.*) as pgrst_v from ({inner}) as {row}"


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
    exprs, joins, inner_joins = builder.select_list(source, alias, items, ())
    conditions = [builder.condition(source, alias, c) for c in node.conditions] if where else []
    where_sql = f" where {' and '.join(conditions)}" if conditions else ""
    base = f"{from_sql} as {alias}"
    count_joins = joins if builder.filters_on_embeds else inner_joins
    total = f"(select pg_catalog.count(*) from {base} {' '.join(count_joins)}{where_sql})" if count else "null::int8"
    page = (
        f"select {', '.join(exprs) or 'null'} from {base} {' '.join(joins)}{where_sql}"
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
