"""Relationships between the exposed tables and views, and how a select's `name!hint` picks one.

Built as PostgREST builds them: every foreign key gives a many-to-one (or one-to-one, when its columns
are unique) relationship and its inverse; a view that shows all the columns of a key takes part in that
key's relationships as its base table does (views of views included); a table whose primary key holds
two foreign keys is a join table for a many-to-many relationship between their targets; and a function
of one row-type argument returning rows of a table or view is a computed relationship, which replaces
the detected ones to a table of the same name. Resolution follows PostgREST's `findRel`, self
relationships included (`children:family(*)` is one-to-many, `parent_id(*)` many-to-one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from devstack.rest.errors import ApiError
from devstack.rest.schema_cache import Function, Junction, Relationship, Table
from devstack.rest.views import Origin


@dataclass(frozen=True)
class _Key:
    """A foreign key between two relations, exposed or not, as attribute numbers and names."""

    name: str
    source: int
    columns: tuple[int, ...]
    target: int
    target_columns: tuple[int, ...]
    unique: bool


def build_relationships(
    tables: dict[int, Table],
    constraints: Iterable[asyncpg.Record],
    origins: dict[int, dict[int, Origin]],
    attnames: dict[tuple[int, int], str],
    functions: dict[tuple[str, str], list[Function]],
) -> None:
    """Fill every table's `relationships`, `primary_key`, `unique_sets` and `computed`."""
    uniques: dict[int, list[frozenset[int]]] = defaultdict(list)
    keys: list[_Key] = []
    for row in constraints:
        relid, attnums = row["conrelid"], tuple(row["attnums"])
        table = tables.get(relid)
        if row["contype"] in ("p", "u"):
            uniques[relid].append(frozenset(attnums))
            if table is not None:
                table.unique_sets.append(frozenset(row["cols"]))
                if row["contype"] == "p":
                    table.primary_key = list(row["cols"])
        else:
            keys.append(_Key(row["conname"], relid, attnums, row["confrelid"], tuple(row["fattnums"]), False))
    exposures = _Exposures(tables, origins, attnames)
    for key in keys:
        unique = frozenset(key.columns) in uniques[key.source]
        _add_key(key, unique, exposures)
    for table in list(tables.values()):
        _add_many_to_many(table)
    _add_computed(tables, functions)


class _Exposures:
    """Where the columns of a relation's key can be read: the relation itself and the views showing them."""

    def __init__(
        self, tables: dict[int, Table], origins: dict[int, dict[int, Origin]], attnames: dict[tuple[int, int], str]
    ) -> None:
        self.tables = tables
        self.attnames = attnames
        self.shown_by: dict[Origin, list[tuple[int, str]]] = defaultdict(list)
        for view, columns in origins.items():
            for attnum, origin in sorted(columns.items()):
                name = attnames.get((view, attnum))
                if name is not None:
                    self.shown_by[origin].append((view, name))

    def of(self, relid: int, attnums: tuple[int, ...], names: tuple[str, ...]) -> list[tuple[Table, tuple[str, ...]]]:
        found: list[tuple[Table, tuple[str, ...]]] = []
        table = self.tables.get(relid)
        if table is not None:
            found.append((table, names))
        views: dict[int, list[str]] = defaultdict(list)
        for position, attnum in enumerate(attnums):
            for view, name in self.shown_by.get((relid, attnum), []):
                if len(views[view]) == position:  # the first column of the view showing this key column
                    views[view].append(name)
        for view, columns in views.items():
            if len(columns) == len(attnums) and view in self.tables:
                found.append((self.tables[view], tuple(columns)))
        return found


def _add_key(key: _Key, unique: bool, exposures: _Exposures) -> None:
    source_names = tuple(exposures.attnames.get((key.source, a), "") for a in key.columns)
    target_names = tuple(exposures.attnames.get((key.target, a), "") for a in key.target_columns)
    for source, columns in exposures.of(key.source, key.columns, source_names):
        for target, target_columns in exposures.of(key.target, key.target_columns, target_names):
            if "" in columns or "" in target_columns:
                continue
            source.relationships.append(
                Relationship(source, target, key.name, columns, target_columns, True, True, unique=unique)
            )
            target.relationships.append(
                Relationship(target, source, key.name, target_columns, columns, unique, False, unique=unique)
            )


def _add_many_to_many(junction: Table) -> None:
    """A join table: two foreign keys whose columns are all part of its primary key."""
    primary = set(junction.primary_key)
    outgoing = [r for r in junction.relationships if r.source_holds_key and set(r.source_columns) <= primary]
    for first in outgoing:
        for second in outgoing:
            if first.constraint == second.constraint:
                continue
            link = Junction(
                junction,
                first.constraint,
                second.constraint,
                tuple(zip(first.target_columns, first.source_columns, strict=True)),
                tuple(zip(second.target_columns, second.source_columns, strict=True)),
            )
            first.target.relationships.append(
                Relationship(
                    first.target,
                    second.target,
                    junction.name,
                    first.target_columns,
                    second.target_columns,
                    False,
                    False,
                    junction=link,
                )
            )


def _add_computed(tables: dict[int, Table], functions: dict[tuple[str, str], list[Function]]) -> None:
    """Functions of one row-type argument: computed relationships (returning rows) or computed fields."""
    for overloads in functions.values():
        for function in overloads:
            if len(function.params) != 1:
                continue
            source = tables.get(function.params[0].type.relid)
            if source is None:
                continue
            target = tables.get(function.return_type.relid) if function.return_type.typtype == "c" else None
            if target is None:
                if not function.returns_set:
                    source.computed.setdefault(function.name, function)
                continue
            to_one = not function.returns_set or function.rows == 1
            source.relationships = [
                r for r in source.relationships if (r.target.schema, r.target.name) != (function.schema, function.name)
            ]
            source.relationships.append(
                Relationship(source, target, function.name, (), (), to_one, to_one, function=function)
            )


# -- resolution ------------------------------------------------------------------------------------------


def find(parent: Table, name: str, hint: str | None) -> Relationship:
    """The one relationship `name[!hint]` denotes from `parent` (PGRST200 none, PGRST201 several)."""
    found = [r for r in parent.relationships if r.target.schema == parent.schema and _matches(r, name, hint)]
    if len(found) == 1:
        return found[0]
    if not found:
        hinted = f"' using the hint '{hint}" if hint else ""
        raise ApiError(
            400,
            "PGRST200",
            f"Could not find a relationship between '{parent.name}' and '{name}' in the schema cache",
            f"Searched for a foreign key relationship between '{parent.name}' and '{name}{hinted}'"
            f" in the schema '{parent.schema}', but no matches were found.",
        )
    options = ", ".join(f"'{name}!{_hint_for(r)}'" for r in found)
    raise ApiError(
        300,
        "PGRST201",
        f"Could not embed because more than one relationship was found for '{parent.name}' and '{name}'",
        [describe(r) for r in found],
        f"Try changing '{name}' to one of the following: {options}. Find the desired relationship in the"
        " 'details' key.",
    )


def _matches(rel: Relationship, name: str, hint: str | None) -> bool:
    if rel.function is not None:
        return name == rel.function.name
    if rel.is_self:
        if hint is None:
            return (name == rel.target.name and _one_to_many(rel)) or (_fk_column(rel, name) and _many_to_one(rel))
        return name == rel.target.name and _one_to_many(rel) and _referenced_column(rel, hint)
    if hint is None:
        return name == rel.target.name or (
            not rel.target.is_view and ((rel.junction is None and name == rel.constraint) or _fk_column(rel, name))
        )
    return name == rel.target.name and (
        (rel.junction is None and hint == rel.constraint)
        or _fk_column(rel, hint)
        or _referenced_column(rel, hint)
        or (rel.junction is not None and hint == rel.junction.table.name)
    )


def _fk_column(rel: Relationship, name: str) -> bool:
    """`name` is the single column of the key on the parent's side (`client_id` of projects → clients)."""
    return rel.junction is None and len(rel.source_columns) == 1 and name == rel.source_columns[0]


def _referenced_column(rel: Relationship, name: str) -> bool:
    return rel.junction is None and len(rel.target_columns) == 1 and name == rel.target_columns[0]


def _many_to_one(rel: Relationship) -> bool:
    return rel.junction is None and rel.source_holds_key and rel.cardinality == "many-to-one"


def _one_to_many(rel: Relationship) -> bool:
    return rel.cardinality == "one-to-many"


def _hint_for(rel: Relationship) -> str:
    return rel.junction.table.name if rel.junction is not None else rel.constraint


def describe(rel: Relationship) -> dict[str, str]:
    """A relationship as PostgREST lists it in PGRST201's details."""
    if rel.junction is not None:
        link = rel.junction
        relationship = (
            f"{link.table.name} using {link.source_constraint}({', '.join(j for _, j in link.source_columns)})"
            f" and {link.target_constraint}({', '.join(j for _, j in link.target_columns)})"
        )
    else:
        relationship = (
            f"{rel.constraint} using {rel.source.name}({', '.join(rel.source_columns)})"
            f" and {rel.target.name}({', '.join(rel.target_columns)})"
        )
    return {
        "cardinality": rel.cardinality,
        "embedding": f"{rel.source.name} with {rel.target.name}",
        "relationship": relationship,
    }
