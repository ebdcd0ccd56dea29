"""pgoutput text values to the JSON Supabase Realtime sends (`to_jsonb(value::type)`), by pg_type.

The poller session sets TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres, bytea_output=hex and
extra_float_digits=1, so the text forms are stable (pgoutput.md "Values to JSON as Supabase does").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack import jsonlimits

Converter = Callable[[str], Any]

INT_TYPES = {"int2", "int4", "int8", "oid"}
FLOAT_TYPES = {"float4", "float8", "numeric"}
TYPE_QUERY = """
select t.oid, t.typname, t.typtype::text, t.typelem, t.typbasetype, t.typcategory::text,
       b.typname as basename, e.typname as elemname,
       format_type(t.oid, null) as sqltype
from pg_type t
left join pg_type b on b.oid = t.typbasetype
left join pg_type e on e.oid = t.typelem
where t.oid = any($1::oid[])
"""


@dataclass(frozen=True)
class PgType:
    oid: int
    name: str  # pg_type.typname, what `columns[].type` shows
    sql: str  # format_type(oid): usable in a cast
    convert: Converter


def _number(text: str) -> Any:
    try:
        value = int(text)
    except ValueError:
        value_f = float(text)
        if math.isnan(value_f) or math.isinf(value_f):
            return text  # to_jsonb keeps NaN/Infinity as strings
        return value_f
    return value


def _scalar_converter(name: str) -> Converter:
    if name in INT_TYPES:
        return int
    if name in FLOAT_TYPES:
        return _number
    if name == "bool":
        return lambda text: text == "t"
    if name in ("json", "jsonb"):
        return _json
    if name == "timestamp":
        return lambda text: text.replace(" ", "T", 1)
    if name == "timestamptz":
        return _timestamptz
    return str


def _json(text: str) -> Any:
    """A json/jsonb value; one nested deeper than the devstack re-encodes stays its text, a JSON string."""
    try:
        return jsonlimits.loads(text)
    except jsonlimits.JsonTooDeep:
        return text


def _timestamptz(text: str) -> str:
    value = text.replace(" ", "T", 1)
    sign = max(value.rfind("+"), value.rfind("-"))
    if sign > 10 and ":" not in value[sign:]:
        value += ":00"  # "+00" → "+00:00", as to_jsonb prints offsets
    return value


def parse_array(text: str, element: Converter) -> Any:
    """A Postgres array literal (`{1,NULL,"a b",{2,3}}`) as nested lists of converted elements."""
    pos = text.index("{")  # skip optional dimension decoration like "[0:1]="
    value, _ = _parse_array_at(text, pos, element)
    return value


def _parse_array_at(text: str, pos: int, element: Converter) -> tuple[list[Any], int]:
    items: list[Any] = []
    pos += 1  # "{"
    while pos < len(text):
        char = text[pos]
        if char == "}":
            return items, pos + 1
        if char == ",":
            pos += 1
        elif char == "{":
            nested, pos = _parse_array_at(text, pos, element)
            items.append(nested)
        elif char == '"':
            chunk, pos = _quoted(text, pos)
            items.append(element(chunk))
        else:
            end = pos
            while text[end] not in ",}":
                end += 1
            raw = text[pos:end]
            items.append(None if raw == "NULL" else element(raw))
            pos = end
    raise ValueError("unterminated array literal")


def _quoted(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    pos += 1
    while text[pos] != '"':
        if text[pos] == "\\":
            pos += 1
        out.append(text[pos])
        pos += 1
    return "".join(out), pos + 1


def make_type(row: Any) -> PgType:
    """A PgType from a TYPE_QUERY row: domains convert as their base type, arrays element-wise."""
    name = row["typname"]
    if row["typtype"] == "d" and row["basename"]:
        base = row["basename"]
        convert = _array_converter(base[1:]) if base.startswith("_") else _scalar_converter(base)
    elif row["typcategory"] == "A" and row["elemname"]:
        convert = _array_converter(row["elemname"])
    else:
        convert = _scalar_converter(name)
    return PgType(int(row["oid"]), name, row["sqltype"], convert)


def _array_converter(element_name: str) -> Converter:
    element = _scalar_converter(element_name)
    return lambda text: parse_array(text, element)


def convert(pg_type: PgType | None, text: str | None) -> Any:
    if text is None:
        return None
    if pg_type is None:
        return text
    try:
        return pg_type.convert(text)
    except (ValueError, IndexError):
        return text
