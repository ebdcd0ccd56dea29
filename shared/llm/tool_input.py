"""A tool call's input as the model streamed it (JSON text) → the object a `ToolUse` carries; and a fresh
call id, for a call whose id is missing or already taken.

Both APIs stream a call's input as JSON text in pieces; what the pieces add up to is the model's output,
so it may be cut short (max_tokens), not an object, or hold what Postgres cannot store (a NUL character,
a lone surrogate, NaN). None of that may crash a worker: such input becomes
`{"_invalid_json": "<the raw text, at most 2,000 characters>"}`, which no tool schema accepts, so the
tool loop answers it with an `is_error` result and the model can try again.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
import string
from typing import Any

INVALID_JSON = "_invalid_json"
RAW_LIMIT = 2000  # characters of the raw text kept in `_invalid_json`

# What a JSON string may hold but a Postgres text or jsonb value may not.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse_tool_input(raw: str) -> dict[str, Any]:
    """The JSON object in `raw`, or `{"_invalid_json": raw[:2000]}` when it is not a storable object."""
    # JSONDecodeError is a ValueError, and so is NaN (see below); very deep nesting is a RecursionError.
    with contextlib.suppress(ValueError, RecursionError):
        value = json.loads(raw, parse_constant=_refuse_constant)
        if isinstance(value, dict) and _storable(value):
            return value
    return invalid_input(raw)


def invalid_input(raw: str) -> dict[str, Any]:
    """The marker for input that is no usable object, keeping (a storable head of) what the model sent."""
    return {INVALID_JSON: _UNSTORABLE.sub("\ufffd", raw[:RAW_LIMIT])}


def _refuse_constant(name: str) -> Any:
    """NaN and ±Infinity parse in Python but are not JSON, and jsonb refuses them."""
    raise ValueError(f"{name} is not JSON")


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is None
    if isinstance(value, float):  # 1e400 parses as inf in Python, and JSON cannot hold it
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def new_call_id(ids_in_use: set[str]) -> str:
    """A call id no call in `ids_in_use` has: 9 letters and digits, the strictest shape a server checks
    (Mistral's), which the Messages API takes too."""
    while True:
        call_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))
        if call_id not in ids_in_use:
            return call_id


_ID_ALPHABET = string.ascii_letters + string.digits
