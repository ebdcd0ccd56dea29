"""Who may connect, join and send: JWT checks as the Realtime server makes them, and private-channel RLS.

Private channels are authorized like supabase/realtime's `realtime.authorize`: in a transaction that is
always rolled back, insert a probe row for the topic, switch to the caller's role and claims (with
`realtime.topic` set) and see whether the SELECT policies let the caller read it back; the INSERT
policies decide whether the caller may send.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from devstack import tokens
from devstack.settings import DevstackSettings


class AuthError(Exception):
    """A refused token or topic; `reason` is what the client sees (`Code: message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def resolve_key(token: str, settings: DevstackSettings) -> str:
    """Opaque `sb_publishable_…`/`sb_secret_…` keys stand for the anon/service-role JWTs."""
    aliases = {settings.publishable_key: settings.anon_key, settings.secret_key: settings.service_role_key}
    return aliases.get(token, token)


def verify(token: str | None, settings: DevstackSettings) -> dict[str, Any]:
    """Claims of a valid token with `role` and `exp`, else AuthError (no clock-skew leeway on `exp`)."""
    if not token:
        raise AuthError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    try:
        claims = tokens.decode(resolve_key(token, settings), settings.jwt_secret.get_secret_value())
    except tokens.TokenError as exc:
        if exc.expired:
            raise AuthError("InvalidJWTToken", "Token has expired") from exc
        if "Signature verification failed" in str(exc):
            raise AuthError("JwtSignatureError", "Failed to validate JWT signature") from exc
        raise AuthError("MalformedJWT", "The token provided is not a valid JWT") from exc
    exp = claims.get("exp")
    if not isinstance(claims.get("role"), str) or not isinstance(exp, int):
        raise AuthError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    if exp <= tokens.now():
        raise AuthError("InvalidJWTToken", f"Token has expired {tokens.now() - exp} seconds ago")
    return claims


@dataclass(frozen=True)
class Permissions:
    read: bool
    write: bool


async def topic_permissions(
    pool: asyncpg.Pool, topic: str, claims: dict[str, Any], *, check_write: bool
) -> Permissions:
    """Evaluate the realtime.messages policies for `topic` as the caller; nothing is left behind."""
    role = str(claims.get("role", "anon"))
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            return await _probe(conn, topic, role, claims, check_write)
        except (asyncpg.InsufficientPrivilegeError, asyncpg.InvalidParameterValueError):
            return Permissions(read=False, write=False)
        finally:
            await tx.rollback()


async def _probe(
    conn: asyncpg.Connection, topic: str, role: str, claims: dict[str, Any], check_write: bool
) -> Permissions:
    probe = uuid.uuid4()
    await conn.execute(
        "insert into realtime.messages (id, topic, extension) values ($1, $2, 'broadcast')", probe, topic
    )
    await conn.execute(
        """select set_config('role', $1, true), set_config('realtime.topic', $2, true),
                  set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),
                  set_config('request.jwt.claim.role', $1, true)""",
        role,
        topic,
        json.dumps(claims),
        str(claims.get("sub") or ""),
    )
    read = bool(await conn.fetchval("select exists(select 1 from realtime.messages where id = $1)", probe))
    write = False
    if check_write:
        try:
            async with conn.transaction():
                await conn.execute("insert into realtime.messages (topic, extension) values ($1, 'broadcast')", topic)
            write = True
        except asyncpg.InsufficientPrivilegeError:
            write = False
    return Permissions(read=read, write=write)
