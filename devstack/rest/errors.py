"""PostgREST's error bodies and statuses: `{code, message, details, hint}` plus `Proxy-Status`."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


class ApiError(Exception):
    """An error answered to the client exactly as PostgREST would."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        hint: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> bytes:
        payload = {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}
        return json.dumps(payload).encode()


def query_error(message: str, details: str) -> ApiError:
    """PGRST100: the query string does not parse."""
    return ApiError(400, "PGRST100", message, details)


def invalid_body(message: str) -> ApiError:
    return ApiError(400, "PGRST102", message)


def column_not_found(relation: str, column: str) -> ApiError:
    return ApiError(400, "PGRST204", f"Could not find the '{column}' column of '{relation}' in the schema cache")


def undefined_column(relation: str, column: str) -> ApiError:
    """The error Postgres itself raises (42703) for an unknown column in `select`, filters or `order`."""
    return ApiError(400, "42703", f"column {relation}.{column} does not exist")


def table_not_found(schema: str, name: str) -> ApiError:
    return ApiError(404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache")


def unacceptable_schema(schema: str, exposed: list[str]) -> ApiError:
    hint = "Only the following schemas are exposed: " + ", ".join(exposed)
    return ApiError(406, "PGRST106", f"Invalid schema: {schema}", hint=hint)


def singular_error(rows: int) -> ApiError:
    return ApiError(
        406, "PGRST116", "Cannot coerce the result to a single JSON object", f"The result contains {rows} rows"
    )


def jwt_invalid(message: str) -> ApiError:
    header = f'Bearer error="invalid_token", error_description={json.dumps(message)}'
    return ApiError(401, "PGRST301", message, headers={"WWW-Authenticate": header})


def jwt_expired() -> ApiError:
    header = 'Bearer error="invalid_token", error_description="JWT expired"'
    return ApiError(401, "PGRST303", "JWT expired", headers={"WWW-Authenticate": header})


def schema_cache_unavailable() -> ApiError:
    return ApiError(503, "PGRST002", "Could not query the database for the schema cache. Retrying.")


# SQLSTATE class prefixes and their statuses, most specific first (PostgREST's Error.hs mapping).
_EXACT = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    "57P01": 503,
    "P0001": 400,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
}
_PREFIX = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}


def sqlstate_status(sqlstate: str, message: str, authed: bool) -> int:
    """The HTTP status PostgREST answers for a Postgres error."""
    if sqlstate == "42501":
        return 403 if authed else 401
    if sqlstate == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if sqlstate in _EXACT:
        return _EXACT[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    return _PREFIX.get(sqlstate[:2], 400)


def from_postgres(exc: asyncpg.PostgresError, authed: bool) -> ApiError:
    """Translate a Postgres error into PostgREST's answer (`RAISE SQLSTATE 'PGRST'` included)."""
    sqlstate = exc.sqlstate or "XX000"
    message = exc.args[0] if exc.args else str(exc)
    details = getattr(exc, "detail", None)
    hint = getattr(exc, "hint", None)
    if sqlstate == "PGRST":
        return _raised_pgrst(str(message), details)
    status = sqlstate_status(sqlstate, str(message), authed)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return ApiError(status, sqlstate, str(message), details, hint, headers)


def _raised_pgrst(message: str, details: str | None) -> ApiError:
    """`RAISE SQLSTATE 'PGRST' USING message = '{json}', detail = '{json}'`: full control of the answer."""
    try:
        body = json.loads(message)
        extra = json.loads(details or "")
        status = int(extra["status"])
        headers = {str(k): str(v) for k, v in dict(extra.get("headers") or {}).items()}
        return ApiError(status, str(body["code"]), str(body["message"]), body.get("details"), body.get("hint"), headers)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ApiError(500, "PGRST121", "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error")
