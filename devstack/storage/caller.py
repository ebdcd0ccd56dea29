"""Who calls Storage and the transaction a request runs in, as the caller's role with its claims.

storage-api verifies the bearer JWT (HS256 keys and ES256 user tokens alike), then runs its queries in
a transaction with `role` and `request.jwt.claims` set to the token's, and `request.headers` (JSON),
`request.method` and `request.path` set to the request's, so the policies on `storage.objects` and
`storage.buckets` decide every request (a policy may read a header, as PostgREST's may). Work the real
server does as superuser (reading a bucket's limits, serving a public or signed download) uses the
service's own role.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request

from devstack import tokens
from devstack.storage import errors


@dataclass(frozen=True)
class Caller:
    role: str
    claims: dict[str, Any]
    # The request as storage-api hands it to the policies: headers (JSON, lower-case names), method, path.
    headers: str = "{}"
    method: str = ""
    path: str = ""

    @property
    def owner(self) -> uuid.UUID | None:
        """The token's `sub` when it is a user id (storage.objects.owner); the keys have none."""
        sub = self.claims.get("sub")
        try:
            return uuid.UUID(sub) if isinstance(sub, str) else None
        except ValueError:
            return None

    @property
    def owner_id(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) and sub else None


def authenticate(request: Request, secret: str) -> Caller:
    """The caller of a request that must carry a JWT (every route but public and signed downloads)."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        raise errors.StorageError(400, "InvalidJWT", "headers must have required property 'authorization'", "Error")
    try:
        claims = tokens.decode(token, secret)
    except tokens.TokenError as exc:
        raise errors.invalid_jwt("jwt expired" if exc.expired else "invalid signature") from exc
    role = claims.get("role")
    headers = json.dumps({name.lower(): value for name, value in request.headers.items()})
    return Caller(role if isinstance(role, str) and role else "anon", claims, headers, request.method, request.url.path)


@contextlib.asynccontextmanager
async def as_caller(pool: asyncpg.Pool, caller: Caller | None, operation: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction as `caller` (None: the service's own role); database errors become Storage errors."""
    async with pool.acquire() as conn, conn.transaction():
        settings = {"storage.operation": operation, "storage.allow_delete_query": "true"}
        if caller is not None:
            sub = caller.claims.get("sub")
            settings |= {
                "role": caller.role,
                "request.jwt.claims": json.dumps(caller.claims),
                "request.jwt.claim.sub": sub if isinstance(sub, str) else "",
                "request.jwt.claim.role": caller.role,
                "request.headers": caller.headers,
                "request.method": caller.method,
                "request.path": caller.path,
            }
        await conn.execute(
            "select " + ", ".join(f"set_config(${2 * i + 1}, ${2 * i + 2}, true)" for i in range(len(settings))),
            *[item for pair in settings.items() for item in pair],
        )
        try:
            yield conn
        except asyncpg.InsufficientPrivilegeError as exc:
            raise errors.rls_denied() if "row-level security" in str(exc) else errors.access_denied() from exc
        except asyncpg.UniqueViolationError as exc:
            raise errors.key_exists() from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise errors.no_such_bucket() from exc
        except asyncpg.InvalidTextRepresentationError as exc:
            raise errors.invalid_request(str(exc)) from exc
