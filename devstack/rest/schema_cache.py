"""The schema cache: tables, columns, types, foreign keys and functions of the exposed schemas.

Like PostgREST's, it is read from the catalogs once and swapped whole on reload; request handling only
reads it, so identifiers in a request are checked against it before any SQL is built.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg

from devstack.rest.errors import ApiError, table_not_found


def quote_ident(name: str) -> str:
    """Quote an identifier that is already known to exist (or was validated as a plain name)."""
    if "\x00" in name:
        raise ValueError("identifier contains NUL")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class PgType:
    oid: int
    schema: str
    name: str
    array_oid: int
    relid: int
    typtype: str

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


@dataclass(frozen=True)
class Column:
    name: str
    type: PgType
    array_type: PgType | None
    default: str | None  # SQL from the catalog (pg_get_expr), never from a request
    generated: bool


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, Column]
    primary_key: list[str] = field(default_factory=list)
    unique_sets: list[frozenset[str]] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    relid: int = 0

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


@dataclass(frozen=True)
class Relationship:
    """A foreign key seen from `source`: to-one when `source` holds the key (or the key is unique)."""

    source: Table
    target: Table
    constraint: str
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    to_one: bool
    source_holds_key: bool


@dataclass(frozen=True)
class Param:
    name: str
    type: PgType
    has_default: bool


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    params: tuple[Param, ...]
    return_type: PgType
    returns_set: bool
    volatility: str  # i, s or v
    columns: dict[str, Column] | None  # output columns when it returns rows of a composite type

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def returns_void(self) -> bool:
        return self.return_type.schema == "pg_catalog" and self.return_type.name == "void"

    def accepts(self, keys: set[str]) -> bool:
        names = {p.name for p in self.params}
        required = {p.name for p in self.params if not p.has_default}
        return required <= keys <= names


@dataclass
class SchemaCache:
    schemas: list[str]
    tables: dict[tuple[str, str], Table]
    functions: dict[tuple[str, str], list[Function]]
    types: dict[int, PgType]
    type_names: dict[str, PgType]
    by_relid: dict[int, Table] = field(default_factory=dict)

    def table(self, schema: str, name: str) -> Table:
        found = self.tables.get((schema, name))
        if found is None:
            raise table_not_found(schema, name)
        return found

    def relationship(self, parent: Table, name: str, hint: str | None) -> Relationship:
        """Resolve `name[!hint]` in a select to one foreign key of `parent`, as PostgREST does."""
        found = [r for r in parent.relationships if r.target.name == name]
        if hint is not None:
            found = [r for r in found if _matches_hint(r, hint)]
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
        options = ", ".join(f"'{name}!{r.constraint}'" for r in found)
        raise ApiError(
            300,
            "PGRST201",
            f"Could not embed because more than one relationship was found for '{parent.name}' and '{name}'",
            [_describe(r) for r in found],
            f"Try changing '{name}' to one of the following: {options}. Find the desired relationship in the"
            " 'details' key.",
        )

    def cast_type(self, name: str) -> PgType | None:
        return self.type_names.get(_TYPE_ALIASES.get(name.lower().strip(), name.lower().strip()))


def _matches_hint(rel: Relationship, hint: str) -> bool:
    key_columns = rel.source_columns if rel.source_holds_key else rel.target_columns
    return hint == rel.constraint or (len(key_columns) == 1 and hint == key_columns[0])


def _describe(rel: Relationship) -> dict[str, str]:
    cardinality = "many-to-one" if rel.source_holds_key else ("one-to-one" if rel.to_one else "one-to-many")
    return {
        "cardinality": cardinality,
        "embedding": f"{rel.source.name} with {rel.target.name}",
        "relationship": f"{rel.constraint} using {rel.source.name}({', '.join(rel.source_columns)})"
        f" and {rel.target.name}({', '.join(rel.target_columns)})",
    }


_TYPE_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
    "real": "float4",
    "float": "float8",
    "double precision": "float8",
    "decimal": "numeric",
    "character varying": "varchar",
    "char": "bpchar",
    "character": "bpchar",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
}

_TYPES_SQL = """
select t.oid, n.nspname, t.typname, t.typarray, t.typrelid, t.typtype::text
from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
where n.nspname = any($1::text[]) or t.oid < 16384
   -- Functions in exposed schemas may take or return types of other schemas (e.g. a worker function
   -- returning rows of a non-exposed table); PostgREST calls them and serialises the result as JSON.
   or n.nspname not in ('pg_toast', 'information_schema')
"""

_RELATIONS_SQL = """
select c.oid, n.nspname, c.relname
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p')
"""

_COLUMNS_SQL = """
select a.attrelid, a.attname, a.atttypid, a.attgenerated <> '' as generated,
  case
    when a.attidentity <> '' then
      format('nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname))
    else pg_catalog.pg_get_expr(d.adbin, d.adrelid)
  end as "default"
from pg_catalog.pg_attribute a
left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""

_CONSTRAINTS_SQL = """
select con.conname, con.contype::text as contype, con.conrelid, con.confrelid,
  array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i) as cols,
  array(select a.attname from unnest(con.confkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i) as fcols
from pg_catalog.pg_constraint con
where con.conrelid = any($1::oid[]) and con.contype in ('p', 'u', 'f')
union all
select i.indexrelid::regclass::text, 'u', i.indrelid, 0,
  array(select a.attname from unnest(i.indkey) k(n)
        join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n),
  '{}'::name[]
from pg_catalog.pg_index i
where i.indrelid = any($1::oid[]) and i.indisunique and i.indpred is null and 0 <> all(i.indkey)
"""

_FUNCTIONS_SQL = """
select n.nspname, p.proname, p.provolatile::text as provolatile, p.proretset, p.prorettype,
  coalesce(p.proargnames, '{}') as argnames,
  coalesce(p.proallargtypes, p.proargtypes::oid[]) as argtypes,
  coalesce(p.proargmodes::text[], '{}') as argmodes, p.pronargdefaults, p.pronargs
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = any($1::text[]) and p.prokind = 'f'
"""


async def load(conn: asyncpg.Connection, schemas: list[str]) -> SchemaCache:
    """Read the catalogs in one snapshot (a repeatable-read transaction)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        catalog_schemas = [*schemas, "pg_catalog", "public", "extensions"]
        types = {r[0]: PgType(*r) for r in await conn.fetch(_TYPES_SQL, catalog_schemas)}
        relations = await conn.fetch(_RELATIONS_SQL, schemas)
        composite_relids = [
            t.relid for t in types.values() if t.typtype == "c" and t.relid and t.schema in catalog_schemas
        ]
        relids = list({r[0] for r in relations} | set(composite_relids))
        columns = await _columns(conn, relids, types)
        tables = {(r[1], r[2]): Table(r[1], r[2], columns.get(r[0], {}), relid=r[0]) for r in relations}
        by_oid = {r[0]: tables[(r[1], r[2])] for r in relations}
        _add_constraints(await conn.fetch(_CONSTRAINTS_SQL, list(by_oid)), by_oid)
        functions = _functions(await conn.fetch(_FUNCTIONS_SQL, schemas), types, columns)
    names = {t.name: t for t in types.values() if t.schema == "pg_catalog"}
    for t in types.values():
        if t.schema != "pg_catalog":
            names.setdefault(t.name, t)
    return SchemaCache(schemas, tables, functions, types, names, {t.relid: t for t in tables.values()})


async def _columns(
    conn: asyncpg.Connection, relids: list[int], types: dict[int, PgType]
) -> dict[int, dict[str, Column]]:
    out: dict[int, dict[str, Column]] = defaultdict(dict)
    for relid, name, typoid, generated, default in await conn.fetch(_COLUMNS_SQL, relids):
        pg_type = types.get(typoid)
        if pg_type is None:
            continue
        out[relid][name] = Column(name, pg_type, types.get(pg_type.array_oid), default, generated)
    return out


def _add_constraints(rows: list[asyncpg.Record], by_oid: dict[int, Table]) -> None:
    foreign: list[asyncpg.Record] = []
    for row in rows:
        table = by_oid[row["conrelid"]]
        if row["contype"] == "p":
            table.primary_key = list(row["cols"])
        if row["contype"] in ("p", "u"):
            table.unique_sets.append(frozenset(row["cols"]))
        elif row["contype"] == "f":
            foreign.append(row)
    for row in foreign:
        source, target = by_oid[row["conrelid"]], by_oid.get(row["confrelid"])
        if target is None:
            continue
        cols, fcols = tuple(row["cols"]), tuple(row["fcols"])
        source.relationships.append(Relationship(source, target, row["conname"], cols, fcols, True, True))
        unique = frozenset(cols) in source.unique_sets
        target.relationships.append(Relationship(target, source, row["conname"], fcols, cols, unique, False))


def _functions(
    rows: list[asyncpg.Record], types: dict[int, PgType], columns: dict[int, dict[str, Column]]
) -> dict[tuple[str, str], list[Function]]:
    out: dict[tuple[str, str], list[Function]] = defaultdict(list)
    for row in rows:
        function = _function(row, types, columns)
        if function is not None:
            out[(function.schema, function.name)].append(function)
    return out


def _function(row: asyncpg.Record, types: dict[int, PgType], columns: dict[int, dict[str, Column]]) -> Function | None:
    names, argtypes, modes = list(row["argnames"]), list(row["argtypes"]), list(row["argmodes"])
    modes = modes or ["i"] * len(argtypes)
    names = names + [""] * (len(argtypes) - len(names))
    first_default = row["pronargs"] - row["pronargdefaults"]
    params: list[Param] = []
    out_columns: dict[str, Column] = {}
    position = 0
    for name, typoid, mode in zip(names, argtypes, modes, strict=True):
        pg_type = types.get(typoid)
        if pg_type is None:
            return None
        if mode in ("i", "b", "v"):
            params.append(Param(name, pg_type, position >= first_default))
            position += 1
        if mode in ("o", "b", "t"):
            out_columns[name] = Column(name, pg_type, types.get(pg_type.array_oid), None, False)
    return_type = types.get(row["prorettype"])
    if return_type is None:
        return None
    cols: dict[str, Column] | None = None
    if return_type.typtype == "c" and return_type.relid:
        cols = columns.get(return_type.relid)
    elif return_type.name == "record" and out_columns:
        cols = out_columns
    return Function(
        row["nspname"], row["proname"], tuple(params), return_type, row["proretset"], row["provolatile"], cols
    )
