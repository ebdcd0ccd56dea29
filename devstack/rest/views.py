"""Where a view's columns come from: each column traced to the base table column it shows, through views.

PostgREST joins views by the foreign keys of their base tables, found by reading the view's rewrite rule
(`pg_rewrite.ev_action`, a `pg_node_tree`). Postgres records the origin of every output column of a
query in its top-level target list (`:resorigtbl` / `:resorigcol`, set for plain column references,
even through joins and subqueries). Here that tree is scanned, not evaluated: only the target list of
the rule's outermost QUERY node is read. A view over another view is followed to the base table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import asyncpg

VIEWS_SQL = """
select c.oid, r.ev_action::text
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_rewrite r on r.ev_class = c.oid and r.rulename = '_RETURN'
where c.relkind in ('v', 'm') and n.nspname = any($1::text[])
"""
_FIELD = re.compile(r":(resno|resorigtbl|resorigcol|resjunk) (\S+)")

Origin = tuple[int, int]  # (relation oid, attribute number)


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(depth, position, character) of every structural character: braces and parentheses outside strings.

    Depth counts the braces and parentheses open before the character. Backslash escapes the next
    character and double quotes delimit strings, as `outToken` and the String node writer print them.
    """
    depth, i, size = 0, 0, len(text)
    while i < size:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            i += 1
            while i < size and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char in "{(":
            yield depth, i, char
            depth += 1
        elif char in "})":
            depth -= 1
            yield depth, i, char
        i += 1


def target_origins(ev_action: str) -> dict[int, Origin]:
    """Output column number → (relation oid, attribute number) for the outermost query of a view rule."""
    if not ev_action.lstrip().startswith("({QUERY"):
        return {}
    # The outermost query's own keys sit at depth 2 (inside the rule's list and the QUERY node); the
    # target lists of subqueries sit deeper.
    list_start = _top_level_key(ev_action, ":targetList (")
    if list_start is None:
        return {}
    origins: dict[int, Origin] = {}
    for entry in _entries(ev_action, list_start):
        fields = dict(_FIELD.findall(entry))
        if fields.get("resjunk") == "true" or "resno" not in fields:
            continue
        relid, attnum = int(fields.get("resorigtbl", "0")), int(fields.get("resorigcol", "0"))
        if relid and attnum:
            origins[int(fields["resno"])] = (relid, attnum)
    return origins


def _top_level_key(text: str, key: str) -> int | None:
    """Position of the list opened right after `key` when `key` belongs to the outermost QUERY node."""
    depth_at: dict[int, int] = {}
    for depth, pos, char in _tokens(text):
        if char == "(":
            depth_at[pos] = depth
    position = text.find(key)
    while position >= 0:
        list_pos = position + len(key) - 1
        if depth_at.get(list_pos) == 2:
            return list_pos
        position = text.find(key, position + 1)
    return None


def _entries(text: str, list_pos: int) -> Iterator[str]:
    """The text of each TARGETENTRY node of the list opened at `list_pos`, without its nested nodes."""
    base: int | None = None
    entry_start = 0
    parts: list[str] = []
    nested_from: int | None = None
    for depth, pos, char in _tokens(text):
        if pos < list_pos:
            continue
        if base is None:
            base = depth
            continue
        if depth == base and char == ")":
            return
        if depth == base + 1 and char == "{":
            entry_start, parts, nested_from = pos, [], None
        elif depth == base + 1 and char == "}":
            parts.append(text[entry_start if nested_from is None else nested_from : pos])
            yield " ".join(parts)
        elif depth == base + 2 and char in "{(":
            parts.append(text[entry_start if nested_from is None else nested_from : pos])
            nested_from = None
        elif depth == base + 2 and char in "})":
            nested_from = pos + 1


async def column_origins(conn: asyncpg.Connection, schemas: list[str]) -> dict[int, dict[int, Origin]]:
    """View oid → {view attribute number → base table (oid, attnum)}, following views of views."""
    rules = {row[0]: target_origins(row[1]) for row in await conn.fetch(VIEWS_SQL, schemas)}
    resolved: dict[int, dict[int, Origin]] = {}
    for view, origins in rules.items():
        columns: dict[int, Origin] = {}
        for attnum, origin in origins.items():
            seen = {view}
            while origin[0] in rules and origin[0] not in seen:  # a view over a view: follow it down
                seen.add(origin[0])
                nxt = rules[origin[0]].get(origin[1])
                if nxt is None:
                    break
                origin = nxt
            if origin[0] not in rules:
                columns[attnum] = origin
        resolved[view] = columns
    return resolved
