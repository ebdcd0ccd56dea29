"""What every Storage route needs: the pool (as supabase_storage_admin), the file store and the limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack import jsonlimits
from devstack.db import Database
from devstack.storage import errors
from devstack.storage.caller import Caller, authenticate
from devstack.storage.files import FileStore

JSON_TYPE = "application/json; charset=utf-8"
STORAGE_ROLE = "supabase_storage_admin"


@dataclass(frozen=True)
class StorageContext:
    db: Database
    files: FileStore
    secret: str
    global_limit: int  # `[storage] file_size_limit`
    signed_upload_expiry: int = 7200  # seconds a signed upload URL stays valid (storage-js: two hours)

    async def pool(self) -> asyncpg.Pool:
        return await self.db.pool(STORAGE_ROLE)

    def caller(self, request: Request) -> Caller:
        return authenticate(request, self.secret)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, media_type=JSON_TYPE)


async def read_json(request: Request, limit: int = 1_048_576) -> dict[str, Any]:
    """A JSON object body (an empty body is `{}`); anything else is 400 InvalidRequest."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise errors.too_large()
    if not body.strip():
        return {}
    try:
        data = jsonlimits.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and JsonTooDeep are ValueErrors
        raise errors.invalid_request(f"Body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.invalid_request("body must be object")
    return data
