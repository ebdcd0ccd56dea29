"""Who is calling: GoTrue's requireAuthentication (user endpoints) and requireAdminCredentials (/admin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from starlette.requests import Request

from devstack import tokens
from devstack.auth import errors, sessions, users
from devstack.auth.users import Row
from devstack.auth.web import AuthConfig, bearer_token


@dataclass(frozen=True)
class Principal:
    """A verified user token with the user row and (when the token names one) the session row."""

    claims: dict[str, Any]
    user: Row
    session: Row | None

    @property
    def session_id(self) -> UUID | None:
        return self.session["id"] if self.session is not None else None


def verified_claims(request: Request, config: AuthConfig) -> dict[str, Any]:
    """The bearer JWT's claims: 401 no_authorization without one, 403 bad_jwt when it does not verify."""
    token = bearer_token(request)
    try:
        return tokens.decode(token, config.jwt_secret)
    except tokens.TokenError as exc:
        reason = "token has invalid claims: token is expired" if exc.expired else str(exc)
        raise errors.forbidden(errors.BAD_JWT, f"invalid JWT: unable to parse or verify signature, {reason}") from exc


async def authenticate(request: Request, conn: asyncpg.Connection, config: AuthConfig) -> Principal:
    """GoTrue's maybeLoadUserOrSession: the token's `sub` must be a user, its `session_id` a session."""
    claims = verified_claims(request, config)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise errors.forbidden(errors.BAD_JWT, "invalid claim: missing sub claim")
    try:
        user_id = UUID(subject)
    except ValueError as exc:
        raise errors.bad_request(errors.BAD_JWT, "invalid claim: sub claim must be a UUID") from exc
    user = await users.find_by_id(conn, user_id)
    if user is None:
        raise errors.forbidden(errors.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
    session_claim = claims.get("session_id")
    if session_claim in (None, "", str(users.NIL_UUID)):
        return Principal(claims=claims, user=user, session=None)
    try:
        session_id = UUID(str(session_claim))
    except ValueError as exc:
        raise errors.forbidden(errors.BAD_JWT, "invalid claim: session_id claim must be a UUID") from exc
    session = await sessions.find_session(conn, session_id)
    if session is None:
        raise errors.forbidden(errors.SESSION_NOT_FOUND, "Session from session_id claim in JWT does not exist")
    return Principal(claims=claims, user=user, session=session)


def require_admin(request: Request, config: AuthConfig) -> dict[str, Any]:
    """The claims of a token whose role is an admin role (service_role, supabase_admin), else 403."""
    claims = verified_claims(request, config)
    if claims.get("role") not in config.admin_roles:
        raise errors.forbidden(errors.NOT_ADMIN, "User not allowed")
    return claims
