"""The schema cache: tables, views, columns, types, relationships and functions of the exposed schemas.

Like PostgREST's, it is read from the catalogs once and swapped whole on reload; request handling only
reads it, so identifiers in a request are checked against it before any SQL is built. Relationships
(foreign keys, the ones views inherit from their base tables, many-to-many through join tables and the
computed ones functions define) are built by `devstack.rest.relationships`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg

from devstack.rest.errors import table_not_found
from devstack.rest.views import column_origins


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


@dataclass(eq=False)
class Table:
    schema: str
    name: str
    columns: dict[str, Column]
    primary_key: list[str] = field(default_factory=list)
    unique_sets: list[frozenset[str]] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    relid: int = 0
    is_view: bool = False
    # Computed fields: functions of one argument of this relation's row type (`full_name(people)`).
    computed: dict[str, Function] = field(default_factory=dict)

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


@dataclass(frozen=True)
class Junction:
    """The join table of a many-to-many relationship, with its two foreign keys."""

    table: Table
    source_constraint: str
    target_constraint: str
    source_columns: tuple[tuple[str, str], ...]  # (column of the source, column of the join table)
    target_columns: tuple[tuple[str, str], ...]  # (column of the target, column of the join table)


@dataclass(frozen=True, eq=False)
class Relationship:
    """A way to embed `target` in `source`: a foreign key seen from either end, a join table or a function.

    `to_one` when at most one target row belongs to a source row: the source holds the key (many-to-one),
    the key is unique (one-to-one), or the function returns one row (`returns t` / `rows 1`).
    """

    source: Table
    target: Table
    constraint: str
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    to_one: bool
    source_holds_key: bool
    junction: Junction | None = None
    function: Function | None = None  # a computed relationship
    unique: bool = False  # the key's columns are unique on the side holding it (one-to-one)

    @property
    def is_self(self) -> bool:
        return self.source is self.target

    @property
    def cardinality(self) -> str:
        if self.junction is not None:
            return "many-to-many"
        if self.to_one:
            return "one-to-one" if self.unique else "many-to-one"
        return "one-to-many"


@dataclass(frozen=True)
class Param:
    name: str
    type: PgType
    has_default: bool
    type_text: str = ""  # as `format_type` prints it (`integer`, `text`), for error messages


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    params: tuple[Param, ...]
    return_type: PgType
    returns_set: bool
    volatility: str  # i, s or v
    columns: dict[str, Column] | None  # output columns when it returns rows of a composite type
    rows: float = 1000.0  # the planner's row estimate (`rows 1` marks a computed to-one relationship)

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def returns_void(self) -> bool:
        return self.return_type.schema == "pg_catalog" and self.return_type.name == "void"

    @property
    def callable(self) -> bool:
        """Callable over /rpc as PostgREST lists them: named parameters, or one unnamed of a body type."""
        unnamed = [p for p in self.params if not p.name]
        if not unnamed:
            return True
        return len(unnamed) == 1 and unnamed[0].type.name in UNNAMED_BODY_TYPES

    @property
    def signature(self) -> str:
        return f"{self.schema}.{self.name}({', '.join(f'{p.name} => {p.type_text}' for p in self.params)})"

    def accepts(self, keys: set[str]) -> bool:
        names = {p.name for p in self.params}
        required = {p.name for p in self.params if not p.has_default}
        return required <= keys <= names


# The body type a single unnamed parameter takes, by its type (PostgREST: json/jsonb, text, xml, bytea).
UNNAMED_BODY_TYPES = {
    "json": "application/json",
    "jsonb": "application/json",
    "text": "text/plain",
    "xml": "text/xml",
    "bytea": "application/octet-stream",
}


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
        """Resolve `name[!hint]` in a select to one relationship of `parent`, as PostgREST does."""
        from devstack.rest.relationships import find

        return find(parent, name, hint)

    def cast_type(self, name: str) -> PgType | None:
        return self.type_names.get(_TYPE_ALIASES.get(name.lower().strip(), name.lower().strip()))


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
select c.oid, n.nspname, c.relname, c.relkind in ('v', 'm') as is_view
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p') and not c.relispartition
"""

_COLUMNS_SQL = """
select a.attrelid, a.attname, a.atttypid, a.attgenerated <> '' as generated, a.attnum,
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
-- Every primary key, unique and foreign key outside the system schemas: views inherit the keys of base
-- tables that may live in schemas the API does not expose.
select con.conname, con.contype::text as contype, con.conrelid, con.confrelid,
  array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i) as cols,
  array(select a.attname from unnest(con.confkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i) as fcols,
  con.conkey::int2[] as attnums, coalesce(con.confkey, '{}')::int2[] as fattnums
from pg_catalog.pg_constraint con
join pg_catalog.pg_namespace n on n.oid = con.connamespace
where con.contype in ('p', 'u', 'f') and con.conparentid = 0
  and n.nspname not in ('pg_catalog', 'information_schema')
union all
select i.indexrelid::regclass::text, 'u', i.indrelid, 0,
  array(select a.attname from unnest(i.indkey) k(n)
        join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n),
  '{}'::name[], i.indkey::int2[], '{}'::int2[]
from pg_catalog.pg_index i
where i.indrelid = any($1::oid[]) and i.indisunique and i.indpred is null and 0 <> all(i.indkey)
"""

_FUNCTIONS_SQL = """
select n.nspname, p.proname, p.provolatile::text as provolatile, p.proretset, p.prorettype,
  coalesce(p.proargnames, '{}') as argnames,
  coalesce(p.proallargtypes, p.proargtypes::oid[]) as argtypes,
  coalesce(p.proargmodes::text[], '{}') as argmodes, p.pronargdefaults, p.pronargs, p.prorows,
  array(select pg_catalog.format_type(t, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t)
    as argtexts
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = any($1::text[]) and p.prokind = 'f' and p.prorettype <> 'pg_catalog.trigger'::regtype
"""


async def load(conn: asyncpg.Connection, schemas: list[str]) -> SchemaCache:
    """Read the catalogs in one snapshot (a repeatable-read transaction)."""
    from devstack.rest.relationships import build_relationships

    async with conn.transaction(isolation="repeatable_read", readonly=True):
        catalog_schemas = [*schemas, "pg_catalog", "public", "extensions"]
        types = {r[0]: PgType(*r) for r in await conn.fetch(_TYPES_SQL, catalog_schemas)}
        relations = await conn.fetch(_RELATIONS_SQL, schemas)
        composite_relids = [
            t.relid for t in types.values() if t.typtype == "c" and t.relid and t.schema in catalog_schemas
        ]
        relids = list({r[0] for r in relations} | set(composite_relids))
        columns, attnames = await _columns(conn, relids, types)
        tables = {(r[1], r[2]): Table(r[1], r[2], columns.get(r[0], {}), relid=r[0], is_view=r[3]) for r in relations}
        by_oid = {t.relid: t for t in tables.values()}
        constraints = await conn.fetch(_CONSTRAINTS_SQL, list(by_oid))
        origins = await column_origins(conn, schemas)
        functions = _functions(await conn.fetch(_FUNCTIONS_SQL, schemas), types, columns)
    build_relationships(by_oid, constraints, origins, attnames, functions)
    names = {t.name: t for t in types.values() if t.schema == "pg_catalog"}
    for t in types.values():
        if t.schema != "pg_catalog":
            names.setdefault(t.name, t)
    return SchemaCache(schemas, tables, functions, types, names, by_oid)


async def _columns(
    conn: asyncpg.Connection, relids: list[int], types: dict[int, PgType]
) -> tuple[dict[int, dict[str, Column]], dict[tuple[int, int], str]]:
    """Columns per relation, and (relation, attnum) → column name for every column read."""
    out: dict[int, dict[str, Column]] = defaultdict(dict)
    attnames: dict[tuple[int, int], str] = {}
    for relid, name, typoid, generated, attnum, default in await conn.fetch(_COLUMNS_SQL, relids):
        attnames[(relid, attnum)] = name
        pg_type = types.get(typoid)
        if pg_type is None:
            continue
        out[relid][name] = Column(name, pg_type, types.get(pg_type.array_oid), default, generated)
    return out, attnames


def _functions(
    rows: list[asyncpg.Record], types: dict[int, PgType], columns: dict[int, dict[str, Column]]
) -> dict[tuple[str, str], list[Function]]:
    out: dict[tuple[str, str], list[Function]] = defaultdict(list)
    for row in rows:
        function = _function(row, types, columns)
        if function is not None:
            out[(function.schema, function.name)].append(function)
    for overloads in out.values():  # as PostgREST orders them: fewest parameters first
        overloads.sort(key=lambda f: (len(f.params), f.signature))
    return out


def _function(row: asyncpg.Record, types: dict[int, PgType], columns: dict[int, dict[str, Column]]) -> Function | None:
    names, argtypes, modes = list(row["argnames"]), list(row["argtypes"]), list(row["argmodes"])
    texts = list(row["argtexts"])
    modes = modes or ["i"] * len(argtypes)
    names = names + [""] * (len(argtypes) - len(names))
    first_default = row["pronargs"] - row["pronargdefaults"]
    params: list[Param] = []
    out_columns: dict[str, Column] = {}
    position = 0
    for name, typoid, mode, text in zip(names, argtypes, modes, texts, strict=True):
        pg_type = types.get(typoid)
        if pg_type is None:
            return None
        if mode in ("i", "b", "v"):
            params.append(Param(name, pg_type, position >= first_default, text))
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
        row["nspname"],
        row["proname"],
        tuple(params),
        return_type,
        row["proretset"],
        row["provolatile"],
        cols,
        float(row["prorows"]),
    )
