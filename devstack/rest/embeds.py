"""Embedded resources: a lateral join per embed, shaped by its relationship and how it is selected.

- to-one (many-to-one, one-to-one, `rows 1` functions): the row as a JSON object, or null;
- to-many (one-to-many, many-to-many through the join table, set-returning functions): a JSON array,
  `[]` when empty, at most `db-max-rows` rows per parent row as PostgREST caps every embed;
- `...rel(cols)` spreads the columns into the parent: a to-one embed's values as they are (its aggregates
  hoisted to the parent's level, grouped by the parent's other columns), a to-many embed's as one
  array per column (its aggregates computed over its rows);
- `rel()` selects nothing: the embed filters (`rel=not.is.null`, `!inner`) and is left out of the output.
"""

from __future__ import annotations

from dataclasses import dataclass

from devstack.rest.errors import ApiError
from devstack.rest.query import Embed, SelectItem
from devstack.rest.schema_cache import Relationship, quote_ident
from devstack.rest.sql import Item, ReadBuilder, Selection, Source


@dataclass(frozen=True)
class Embedded:
    items: list[Item]  # what the embed adds to the parent's select list (none for an empty embed)
    join: str  # the lateral join that computes it


def embed(builder: ReadBuilder, source: Source, alias: str, item: Embed, path: tuple[str, ...]) -> Embedded:
    if source.table is None:
        raise ApiError(
            400,
            "PGRST200",
            f"Could not find a relationship between '{source.label}' and '{item.name}' in the schema cache",
        )
    rel = builder.cache.relationship(source.table, item.name, item.hint)
    child_path = (*path, item.key)
    child_alias = builder.alias()
    child = Source(rel.target.name, rel.target.columns, rel.target)
    selection = builder.select_list(child, child_alias, item.select, child_path)
    node = builder.node(child_path)
    from_sql, where = _join(builder, rel, alias, child_alias)
    where += [builder.condition(child, child_alias, c) for c in node.conditions]
    limit = node.limit
    if not rel.to_one and builder.max_rows is not None:
        limit = builder.max_rows if limit is None else min(limit, builder.max_rows)
    shape = _Shape(
        f"from {from_sql} {' '.join(selection.joins)}" + (f" where {' and '.join(where)}" if where else ""),
        f"{builder.order_by(child, child_alias, node.order)}{builder.range(limit, node.offset)}",
    )
    lateral = builder.alias()
    builder.laterals[(alias, item.key)] = lateral
    if item.spread:
        return _spread(builder, rel, item, selection, shape, lateral)
    row, lat = builder.alias(), quote_ident(lateral)
    inner = f"select {selection.render()} {shape.source}{selection.group_by()}{shape.tail}"
    join_kind = "inner join lateral" if item.inner else "left join lateral"
    empty = _empty(item.select)
    if rel.to_one:
        body = f"select pg_catalog.row_to_json({row}.*) as pgrst_v from ({inner}) as {row}"
        items = [] if empty else [Item(f"{lat}.pgrst_v", item.key, "json")]
        return Embedded(items, f"{join_kind} ({body}) as {lat} on true")
    body = f"select {builder.guarded(f'pg_catalog.json_agg({row})')} as pgrst_v from ({inner}) as {row}"
    condition = f"{lat}.pgrst_v is not null" if item.inner else "true"
    items = [] if empty else [Item(f"coalesce({lat}.pgrst_v, '[]')", item.key, "json")]
    return Embedded(items, f"{join_kind} ({body}) as {lat} on {condition}")


@dataclass(frozen=True)
class _Shape:
    source: str  # FROM … WHERE … of the embedded rows
    tail: str  # their ORDER BY / LIMIT / OFFSET


def _join(builder: ReadBuilder, rel: Relationship, parent: str, child: str) -> tuple[str, list[str]]:
    """The embedded relation (as `child`) and the conditions that tie it to the parent row (`parent`)."""
    target = f"{rel.target.sql} as {quote_ident(child)}"
    if rel.function is not None:
        return f"{rel.function.sql}({quote_ident(parent)}) as {quote_ident(child)}", []
    if rel.junction is not None:
        link = rel.junction
        junction = quote_ident(builder.alias())
        on = " and ".join(
            f"{quote_ident(child)}.{quote_ident(c)} = {junction}.{quote_ident(j)}" for c, j in link.target_columns
        )
        where = [
            f"{junction}.{quote_ident(j)} = {quote_ident(parent)}.{quote_ident(c)}" for c, j in link.source_columns
        ]
        return f"{target} join {link.table.sql} as {junction} on {on}", where
    where = [
        f"{quote_ident(child)}.{quote_ident(tc)} = {quote_ident(parent)}.{quote_ident(sc)}"
        for sc, tc in zip(rel.source_columns, rel.target_columns, strict=True)
    ]
    return target, where


def _spread(
    builder: ReadBuilder, rel: Relationship, item: Embed, selection: Selection, shape: _Shape, lateral: str
) -> Embedded:
    lat, join_kind = quote_ident(lateral), "inner join lateral" if item.inner else "left join lateral"
    # The embedded rows with each item's raw value: aggregates are applied above (hoisted or per embed).
    raw = ", ".join(
        f"{(i.hoist[1] or 'null') if i.hoist is not None else i.sql} as {quote_ident(i.name)}" for i in selection.items
    )
    if rel.to_one:
        hoisted = [_hoisted(builder, f"{lat}.{quote_ident(i.name)}", i) for i in selection.items]
        body = f"select true as pgrst_v{', ' + raw if raw else ''} {shape.source}{shape.tail}"
        return Embedded(hoisted, f"{join_kind} ({body}) as {lat} on true")
    row = quote_ident(builder.alias())
    columns = ["case when pg_catalog.count(*) > 0 then true end as pgrst_v"]
    items: list[Item] = []
    for i in selection.items:
        value = f"{row}.{quote_ident(i.name)}"
        if i.hoist is not None:  # an aggregate over the embedded rows, one value per parent row
            function, argument, cast = i.hoist
            aggregate = builder.cast_to(f"pg_catalog.{function}({value if argument else '*'})", cast)
            columns.append(f"{aggregate} as {quote_ident(i.name)}")
            items.append(Item(f"{lat}.{quote_ident(i.name)}", i.name))
        else:  # one array of the column's values
            array = builder.guarded(f"pg_catalog.json_agg({value})")
            columns.append(f"coalesce({array}, '[]') as {quote_ident(i.name)}")
            items.append(Item(f"{lat}.{quote_ident(i.name)}", i.name, "json"))
    body = f"select {', '.join(columns)} from (select {raw or 'null'} {shape.source}{shape.tail}) as {row}"
    condition = f"{lat}.pgrst_v is not null" if item.inner else "true"
    return Embedded(items, f"{join_kind} ({body}) as {lat} on {condition}")


def _hoisted(builder: ReadBuilder, value: str, item: Item) -> Item:
    """A to-one spread's item as its parent selects it: aggregates now apply over the parent's rows."""
    if item.hoist is None:
        return Item(value, item.name, item.kind)
    function, argument, cast = item.hoist
    sql = builder.cast_to(f"pg_catalog.{function}({value if argument else '*'})", cast)
    return Item(sql, item.name, "agg", (function, value if argument else None, cast))


def _empty(items: list[SelectItem]) -> bool:
    """An embed that selects no column at any depth (`rel()`, `rel(other())`)."""
    return all(isinstance(i, Embed) and _empty(i.select) for i in items)
