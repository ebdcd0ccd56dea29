"""JSON from clients with a nesting limit, so that no service answers deep input with a 500 or a closed socket.

Python's parser raises RecursionError (not ValueError) about 1,000 levels deep, and re-encoding what it
did parse can fail deeper in a call stack; Postgres stops parsing jsonb at its stack limit. Every body,
frame and payload the devstack parses goes through `loads`, which refuses nesting deeper than
`MAX_DEPTH` with `JsonTooDeep`, a ValueError that each service answers with its own 4xx.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 512
# Brackets outside strings: the only characters that change the nesting depth of JSON text.
_STRUCTURE = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


class JsonTooDeep(ValueError):
    """JSON nested deeper than the limit."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` that raises JsonTooDeep (a ValueError) for input nested deeper than `max_depth`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_depth(raw, max_depth)
    try:
        return json.loads(data)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonTooDeep when the text nests deeper than `max_depth` (cheap unless it has many brackets)."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    depth = 0
    for match in _STRUCTURE.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
        elif token in (b"]", b"}"):
            depth -= 1


def holds_nul(data: Any) -> bool:
    """Whether any string of a parsed JSON value, keys included, holds U+0000 (Postgres text and jsonb
    cannot: a service refuses it with its own 4xx rather than fail in the database)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
