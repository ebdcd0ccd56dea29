"""The `filter` of a postgres_changes binding (`col=op.value`), parsed once and checked per change.

Operators eq, neq, lt, lte, gt, gte, in (as in supabase/realtime's check_equality_op), plus like, ilike,
match, imatch (POSIX regex, approximated with Python's `re`), isdistinct, `is.null` / `is.true` /
`is.false` and the `not.` prefix; several filters joined by commas must all hold. The value is
converted with the column's type so numbers compare as numbers.

Filters on columns a change does not carry are skipped, and a change carrying none of the filtered
columns is not sent, as `realtime.is_visible_through_filters` joins filters to the change's columns: a
DELETE carries only its key (all columns with REPLICA IDENTITY FULL), so a subscription filtered on
another column gets no DELETE at all — Supabase's "delete events are not filterable".
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.realtime.values import PgType, convert

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
PATTERNS = {"like", "ilike", "match", "imatch"}
OPERATORS = {*COMPARISONS, *PATTERNS, "in", "is", "isdistinct"}


def _like_regex(pattern: str) -> str:
    """A SQL LIKE pattern (% and _, backslash escapes) as an anchored regular expression."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
    return "^" + "".join(out) + "$"


def _pattern_holds(op: str, pattern: str, text: str) -> bool:
    flags = re.IGNORECASE if op in ("ilike", "imatch") else 0
    regex = _like_regex(pattern) if op in ("like", "ilike") else pattern
    try:
        return re.search(regex, text, flags | re.DOTALL) is not None
    except re.error:
        return False


class FilterError(ValueError):
    """A filter string the server cannot parse."""


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: str | tuple[str, ...]
    negate: bool

    def holds(self, record: dict[str, str | None], types: dict[str, PgType]) -> bool:
        raw = record[self.column]
        result = self._compare(raw, types.get(self.column))
        return (not result) if self.negate else result

    def _compare(self, raw: str | None, pg_type: PgType | None) -> bool:
        if self.op == "is":
            target = {"null": None, "true": "t", "false": "f"}.get(str(self.value).lower(), self.value)
            return raw == target
        if self.op == "isdistinct":
            return raw is None or convert(pg_type, raw) != convert(pg_type, str(self.value))
        if raw is None:
            return False
        if self.op in PATTERNS:
            return _pattern_holds(self.op, str(self.value), raw)
        actual = convert(pg_type, raw)
        try:
            if self.op == "in":
                return any(actual == convert(pg_type, v) for v in self.value)
            return COMPARISONS[self.op](actual, convert(pg_type, str(self.value)))
        except TypeError:
            return False


def visible(conditions: tuple[Condition, ...], record: dict[str, str | None], types: dict[str, PgType]) -> bool:
    """Whether a change passes a binding's filters (see the module docstring for absent columns)."""
    if not conditions:
        return True
    present = [c for c in conditions if c.column in record]
    return bool(present) and all(c.holds(record, types) for c in present)


def parse(text: str | None) -> tuple[Condition, ...]:
    if text is None or not text.strip():
        return ()
    return tuple(_parse_one(part) for part in _split(text.strip()))


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_one(part: str) -> Condition:
    column, sep, rest = part.partition("=")
    negate = rest.startswith("not.")
    if negate:
        rest = rest[4:]
    op, dot, value = rest.partition(".")
    if not sep or not dot or not column or op not in OPERATORS:
        raise FilterError(f"Error parsing `filter` params: {part!r}")
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise FilterError(f"Error parsing `filter` params: {part!r}")
        items = tuple(v.strip().strip('"') for v in value[1:-1].split(",") if v.strip())
        return Condition(column, op, items, negate)
    return Condition(column, op, value, negate)
