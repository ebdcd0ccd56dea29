"""Parse PostgREST's query-string grammar (`select`, filters, logic trees, `order`) into plain values.

Nothing here touches SQL: names are checked against the schema cache and values bound as parameters
later, in `devstack.rest.sql`. Parse errors are PGRST100, as in PostgREST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devstack.rest.errors import query_error

QUANTIFIABLE = frozenset(["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"])
OPERATORS = QUANTIFIABLE | {"in", "is", "isdistinct", "fts", "plfts", "phfts", "wfts"}
OPERATORS |= {"cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"}
IS_VALUES = {"null": "null", "not_null": "not null", "true": "true", "false": "false", "unknown": "unknown"}
RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict", "or", "and", "not.or", "not.and"})
# Nesting of embeds and of logic trees: far beyond real use, well within Python's recursion limit.
MAX_DEPTH = 32
# Aliases, JSON keys used as output names and embed names: plain names only (they become quoted identifiers).
_NAME = re.compile(r"^[\w$ -]{1,63}$")


@dataclass(frozen=True)
class Field:
    """A column, optionally followed by a JSON path (`data->a->>b`)."""

    name: str
    path: tuple[tuple[str, str | int], ...] = ()

    @property
    def output_name(self) -> str:
        if not self.path:
            return self.name
        last = self.path[-1][1]
        return str(last)


AGGREGATES = ("sum", "avg", "min", "max", "count")


@dataclass(frozen=True)
class Column:
    """A column, computed field or JSON path; with `aggregate`, that function of it (`count()`: of rows)."""

    field: Field
    alias: str | None = None
    cast: str | None = None
    aggregate: str | None = None  # sum | avg | min | max | count
    aggregate_cast: str | None = None  # `amount.sum()::text`: the cast of the aggregate's result

    @property
    def output_name(self) -> str:
        if self.alias:
            return self.alias
        if self.aggregate:
            return self.aggregate
        return self.field.output_name


@dataclass(frozen=True)
class Star:
    pass


@dataclass
class Embed:
    name: str
    alias: str | None
    hint: str | None
    inner: bool
    select: list[Column | Star | Embed]
    spread: bool = False  # `...rel(cols)`: the columns of a to-one embed join the parent's

    @property
    def key(self) -> str:
        return self.alias or self.name


SelectItem = Column | Star | Embed


@dataclass(frozen=True)
class Filter:
    field: Field
    op: str
    value: str | tuple[str, ...]
    negate: bool = False
    quantifier: str | None = None  # any | all
    language: str | None = None  # fts configuration


@dataclass(frozen=True)
class Logic:
    conjunction: str  # and | or
    items: tuple[Filter | Logic, ...]
    negate: bool = False


Condition = Filter | Logic


@dataclass(frozen=True)
class Order:
    field: Field
    descending: bool = False
    nulls: str | None = None  # first | last


@dataclass
class Node:
    """Filters, order and range for the top level or one embedded resource."""

    conditions: list[Condition] = field(default_factory=list)
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses, double quotes and (balanced) braces of array literals."""
    try:
        return _split(text, sep, braces=True)
    except ValueError:
        if text.count("{") == text.count("}"):
            raise
        return _split(text, sep, braces=False)  # a lone brace is an ordinary character of a value


def _split(text: str, sep: str, *, braces: bool) -> list[str]:
    parts, depth, quoted, current = [], 0, False, []
    openers, closers = ("({", ")}") if braces else ("(", ")")
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in openers:
            depth += 1
        elif not quoted and ch in closers:
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if depth != 0 or quoted:
        raise ValueError("unbalanced parentheses or quotes")
    parts.append("".join(current))
    return parts


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise query_error(f"failed to parse {what}", f"unexpected name {name!r}")
    return name


def parse_field(text: str) -> Field:
    """`col`, `"quoted col"` or `col->a->>b` (integers in a path are array indexes)."""
    tokens = re.split(r"(->>|->)", text)
    name = unquote(tokens[0].strip())
    if not name:
        raise ValueError(f"empty field name in {text!r}")
    path: list[tuple[str, str | int]] = []
    for arrow, key in zip(tokens[1::2], tokens[2::2], strict=True):
        key = unquote(key)
        if not key:
            raise ValueError(f"empty JSON key in {text!r}")
        path.append((arrow, int(key) if re.fullmatch(r"-?\d+", key) else key))
    return Field(name, tuple(path))


def parse_select(text: str) -> list[SelectItem]:
    try:
        return _select_items(text)
    except ValueError as exc:
        raise query_error(f"failed to parse select parameter ({text})", str(exc)) from exc


def _select_items(text: str, depth: int = 0) -> list[SelectItem]:
    if depth > MAX_DEPTH:
        raise ValueError(f"embedded resources nested deeper than {MAX_DEPTH} levels")
    items: list[SelectItem] = []
    for raw in split_top(text):
        part = raw.strip()
        if not part:
            raise ValueError("empty item in select")
        if part == "*":
            items.append(Star())
        elif _AGGREGATE.match(part):
            items.append(_column(part))
        elif part.endswith(")") and "(" in part:
            items.append(_embed(part, depth))
        else:
            items.append(_column(part))
    return items


# `[alias:]field[::cast].sum()[::cast]` or `[alias:]count()[::cast]`: an aggregate, not an embed.
_AGGREGATE = re.compile(r"^(?:[^(]*\.(?:sum|avg|min|max|count)|(?:[\w$ -]+\s*:\s*)?count)\(\s*\)(?:::[\w ]+)?$")


def _embed(part: str, depth: int) -> Embed | Column:
    head, inner = part[: part.index("(")].strip(), part[part.index("(") + 1 : -1]
    spread = head.startswith("...")
    head = head.removeprefix("...").strip()
    alias = None
    if ":" in head:
        alias, head = (s.strip() for s in head.split(":", 1))
        check_name(alias, "select parameter")
    name, *marks = (piece.strip() for piece in head.split("!"))
    if not name:
        raise ValueError("empty embed name")
    hint, joined = None, False
    for mark in marks:
        if mark == "inner":
            joined = True
        elif mark == "left":
            joined = False
        elif mark:
            hint = mark
        else:
            raise ValueError("empty embed hint")
    if spread and alias:
        raise ValueError("a spread embed takes no alias")
    return Embed(name, alias, hint, joined, _select_items(inner, depth + 1) if inner.strip() else [], spread)


def _column(part: str) -> Column:
    """`[alias:]field[->path][::cast][.agg()][::cast]`; `count()` counts rows."""
    cast = None
    if "::" in part:
        part, cast = (p.strip() for p in part.rsplit("::", 1))
        _check_cast(cast)
    alias = None
    if re.match(r"^[^\"]*?[^:]:[^:]", part) and not part.startswith('"'):
        alias, part = part.split(":", 1)
        alias = check_name(alias.strip(), "select parameter")
    part = part.strip()
    aggregate, aggregate_cast = None, None
    match = re.fullmatch(r"(?:(.*)\.)?(sum|avg|min|max|count)\(\s*\)", part)
    if match is not None:
        aggregate, aggregate_cast, cast = match.group(2), cast, None
        part = (match.group(1) or "").strip()
        if not part and aggregate != "count":
            raise ValueError(f"{aggregate}() needs a column")
        if "::" in part:
            part, cast = (p.strip() for p in part.rsplit("::", 1))
            _check_cast(cast)
    if aggregate is not None and not part:
        return Column(Field("*"), alias, None, aggregate, aggregate_cast)
    fld = parse_field(part)
    if fld.path and alias is None:
        check_name(fld.output_name, "select parameter")
    return Column(fld, alias, cast, aggregate, aggregate_cast)


def _check_cast(cast: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*(\[\])?", cast):
        raise ValueError(f"unexpected cast {cast!r}")


_OPERATOR = re.compile(r"^(not\.)?([a-z]+)(?:\((any|all)\)|\(([\w-]+)\))?\.", re.DOTALL)


def parse_operation(fld: Field, text: str) -> Filter:
    """`[not.]op[(any|all)|(lang)].value` for a field already parsed."""
    match = _OPERATOR.match(text)
    if match is None or match.group(2) not in OPERATORS:
        raise query_error(f"failed to parse filter ({text})", "unexpected operator or missing value")
    negate, op, quantifier, language = bool(match.group(1)), match.group(2), match.group(3), match.group(4)
    raw = text[match.end() :]
    if (quantifier and op not in QUANTIFIABLE) or (language and not op.endswith("fts")):
        raise query_error(f"failed to parse filter ({text})", "unexpected modifier")
    value: str | tuple[str, ...] = raw
    if op == "in" or quantifier:
        value = _list_value(raw, text, op == "in")
    elif op == "is" and raw.lower() not in IS_VALUES:
        raise query_error(f"failed to parse filter ({text})", "expected null, not_null, true, false or unknown")
    return Filter(fld, op, value, negate, quantifier, language)


def _list_value(raw: str, text: str, parens: bool) -> tuple[str, ...]:
    opener, closer = ("(", ")") if parens else ("{", "}")
    if not (raw.startswith(opener) and raw.endswith(closer)):
        raise query_error(f"failed to parse filter ({text})", f"expected a list in {opener}{closer}")
    inner = raw[1:-1]
    try:
        items = split_top(inner) if inner else []
    except ValueError as exc:
        raise query_error(f"failed to parse filter ({text})", str(exc)) from exc
    return tuple(unquote(item.strip()) if item.strip().startswith('"') else item for item in items)


def parse_filter(key: str, value: str) -> tuple[tuple[str, ...], Condition]:
    """A query parameter that is not reserved: a filter, possibly on an embedded resource (`a.b.col`)."""
    parts = key.split(".")
    if parts[-1] in ("or", "and"):
        negate = len(parts) > 1 and parts[-2] == "not"
        path = tuple(parts[: -2 if negate else -1])
        return path, parse_logic(parts[-1], value, negate)
    try:
        fld = parse_field(parts[-1])
    except ValueError as exc:
        raise query_error(f"failed to parse filter ({key})", str(exc)) from exc
    return tuple(parts[:-1]), parse_operation(fld, value)


def parse_logic(conjunction: str, text: str, negate: bool = False, depth: int = 0) -> Logic:
    if depth > MAX_DEPTH:
        raise query_error("failed to parse logic tree", f"logic trees nested deeper than {MAX_DEPTH} levels")
    if not (text.startswith("(") and text.endswith(")")):
        raise query_error(f"failed to parse logic tree ({text})", 'expected "("')
    try:
        parts = split_top(text[1:-1])
    except ValueError as exc:
        raise query_error(f"failed to parse logic tree ({text})", str(exc)) from exc
    items: list[Condition] = []
    for part in parts:
        nested = re.match(r"^(not\.)?(and|or)\(", part)
        if nested:
            inner = part[len(nested.group(0)) - 1 :]
            items.append(parse_logic(nested.group(2), inner, bool(nested.group(1)), depth + 1))
            continue
        name, dot, rest = part.partition(".")
        if not dot:
            raise query_error(f"failed to parse logic tree ({text})", f"unexpected {part!r}")
        try:
            fld = parse_field(name)
        except ValueError as exc:
            raise query_error(f"failed to parse logic tree ({text})", str(exc)) from exc
        operation = parse_operation(fld, rest)
        if isinstance(operation.value, str):
            operation = Filter(fld, operation.op, unquote(operation.value), operation.negate, None, operation.language)
        items.append(operation)
    if not items:
        raise query_error(f"failed to parse logic tree ({text})", "empty logic tree")
    return Logic(conjunction, tuple(items), negate)


def parse_order(text: str) -> list[Order]:
    terms: list[Order] = []
    for raw in text.split(","):
        pieces = raw.split(".")
        try:
            fld = parse_field(pieces[0])
        except ValueError as exc:
            raise query_error(f"failed to parse order ({text})", str(exc)) from exc
        descending, nulls = False, None
        for modifier in pieces[1:]:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier[5:]
            else:
                raise query_error(f"failed to parse order ({text})", f"unexpected {modifier!r}")
        terms.append(Order(fld, descending, nulls))
    return terms


def parse_int(name: str, text: str) -> int:
    if not re.fullmatch(r"\d{1,12}", text):
        raise query_error(f"failed to parse {name} parameter ({text})", "expected a non-negative integer")
    return int(text)


def parse_columns(text: str, what: str) -> list[str]:
    try:
        names = [unquote(part.strip()) for part in split_top(text)]
    except ValueError as exc:
        raise query_error(f"failed to parse {what} parameter ({text})", str(exc)) from exc
    if any(not n for n in names):
        raise query_error(f"failed to parse {what} parameter ({text})", "empty column name")
    return names
