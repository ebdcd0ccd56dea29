"""Sessions, rotating refresh tokens and access tokens, as GoTrue keeps them in auth.sessions/refresh_tokens.

Rotation follows GoTrue's refresh-token grant (v1 tokens): each use revokes the token and issues a child
(parent = old token). A revoked token is still accepted when it is the parent of the session's active
token (the client lost the last response: the active token is handed back) or within the reuse interval
after it was revoked (a new child is issued). Any other reuse revokes every token of the session and
answers 400 refresh_token_already_used. Rows are locked session first, then token — the order a logout
(`delete from sessions`, cascading to tokens) takes — so concurrent refreshes and logouts never deadlock.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from devstack import tokens
from devstack.auth import audit, errors, users
from devstack.auth.users import Row
from devstack.auth.web import AuthConfig, Client

log = logging.getLogger("devstack.auth")

_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Grant:
    """What a session response hands out besides the user: the session and its current refresh token."""

    session_id: UUID
    refresh_token: str
    aal: str
    amr: list[dict[str, Any]]


def new_refresh_token() -> str:
    """12 random lowercase alphanumerics, the shape of GoTrue's v1 refresh tokens."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(12))


async def amr_of(conn: asyncpg.Connection, session_id: UUID) -> list[dict[str, Any]]:
    """The session's authentication methods (auth.mfa_amr_claims), newest first, as the `amr` claim."""
    rows = await conn.fetch(
        "select authentication_method, updated_at from auth.mfa_amr_claims where session_id = $1"
        " order by updated_at desc",
        session_id,
    )
    return [{"method": r["authentication_method"], "timestamp": int(r["updated_at"].timestamp())} for r in rows]


async def add_amr(conn: asyncpg.Connection, session_id: UUID, method: str) -> None:
    """GoTrue's AddClaimToSession: one row per method, refreshed when it is used again."""
    await conn.execute(
        """insert into auth.mfa_amr_claims (id, session_id, authentication_method, created_at, updated_at)
           values (gen_random_uuid(), $1, $2, now(), now())
           on conflict (session_id, authentication_method) do update set updated_at = now()""",
        session_id,
        method,
    )


async def _insert_token(conn: asyncpg.Connection, user_id: UUID, session_id: UUID, parent: str | None) -> str:
    token = new_refresh_token()
    await conn.execute(
        """
        insert into auth.refresh_tokens (instance_id, token, user_id, revoked, parent, session_id,
                                         created_at, updated_at)
        values ($1, $2, $3, false, $4, $5, now(), now())
        """,
        users.NIL_UUID,
        token,
        str(user_id),
        parent,
        session_id,
    )
    return token


async def start_session(conn: asyncpg.Connection, user_id: UUID, client: Client, method: str = "password") -> Grant:
    """GoTrue's issueRefreshToken: a new session, its first refresh token, and last_sign_in_at = now."""
    # The user row first: lock order user -> session -> token, as a user deletion cascades.
    await conn.execute("update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1", user_id)
    session = await conn.fetchrow(
        """
        insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
        values (gen_random_uuid(), $1, now(), now(), 'aal1', $2, cast($3::text as inet))
        returning id, created_at, aal
        """,
        user_id,
        client.user_agent,
        client.ip,
    )
    token = await _insert_token(conn, user_id, session["id"], None)
    await add_amr(conn, session["id"], method)
    return Grant(session["id"], token, session["aal"], await amr_of(conn, session["id"]))


async def rotate(conn: asyncpg.Connection, user_id: UUID, session_id: UUID) -> Grant:
    """A new refresh token for an existing session (the old ones revoked), e.g. after its AAL rose."""
    await conn.execute(
        "update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and not revoked",
        session_id,
    )
    token = await _insert_token(conn, user_id, session_id, None)
    aal = await conn.fetchval("select coalesce(aal, 'aal1') from auth.sessions where id = $1", session_id)
    return Grant(session_id, token, aal, await amr_of(conn, session_id))


def access_token(config: AuthConfig, user: Row, grant: Grant) -> tuple[str, int]:
    """The access token (ES256, the signing key) with GoTrue's claims, and its expiry (unix seconds)."""
    issued_at = tokens.now()
    expires_at = issued_at + config.jwt_expiry
    claims = {
        "iss": config.issuer,
        "sub": str(user["id"]),
        "aud": user["aud"] or "",
        "exp": expires_at,
        "iat": issued_at,
        "email": user["email"] or "",
        "phone": user["phone"] or "",
        "app_metadata": users.load_json(user["raw_app_meta_data"]),
        "user_metadata": users.load_json(user["raw_user_meta_data"]),
        "role": user["role"] or "",
        "aal": grant.aal,
        "amr": grant.amr,
        "session_id": str(grant.session_id),
        "is_anonymous": bool(user["is_anonymous"]),
    }
    return tokens.sign_user(claims), expires_at


def session_payload(
    config: AuthConfig, user: Row, user_object: dict[str, Any], grant: Grant, weak: errors.WeakPasswordError | None
) -> dict[str, Any]:
    """GoTrue's AccessTokenResponse."""
    token, expires_at = access_token(config, user, grant)
    out: dict[str, Any] = {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": max(expires_at - tokens.now(), 0),
        "expires_at": expires_at,
        "refresh_token": grant.refresh_token,
        "user": user_object,
    }
    if weak is not None:
        out["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
    return out


@dataclass(frozen=True)
class Refreshed:
    user: Row
    grant: Grant


async def refresh(conn: asyncpg.Connection, config: AuthConfig, token: str, client: Client) -> Refreshed:
    """Exchange a refresh token; revocations done on detected reuse are committed before the error."""
    async with conn.transaction():
        outcome = await _refresh_locked(conn, config, token, client)
    if isinstance(outcome, errors.ApiError):
        raise outcome
    return outcome


async def _refresh_locked(
    conn: asyncpg.Connection, config: AuthConfig, token: str, client: Client
) -> Refreshed | errors.ApiError:
    locked = await _lock(conn, token, config.reuse_interval)
    if isinstance(locked, errors.ApiError):
        return locked
    session, row, user = locked
    issued = await _reuse(conn, session["id"], row, token) if row["revoked"] else None
    if isinstance(issued, errors.ApiError):
        return issued
    actor = audit.Actor.of_user(user)
    await audit.record(conn, actor, "token_refreshed", client.ip)
    if issued is None:
        await audit.record(conn, actor, "token_revoked", client.ip)
        await conn.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = now() where token = $1 and not revoked", token
        )
        issued = await _insert_token(conn, user["id"], session["id"], token)
    await conn.execute(
        """
        update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now(), user_agent = $2,
                                 ip = cast($3::text as inet)
        where id = $1
        """,
        session["id"],
        client.user_agent,
        client.ip,
    )
    grant = Grant(session["id"], issued, session["aal"], await amr_of(conn, session["id"]))
    return Refreshed(user=user, grant=grant)


async def _lock(conn: asyncpg.Connection, token: str, reuse_interval: int) -> tuple[Row, Row, Row] | errors.ApiError:
    """Lock the token's session, then the token; check the user and the session are still usable."""
    not_found = errors.bad_request(errors.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found")
    no_session = errors.bad_request(errors.SESSION_NOT_FOUND, "Invalid Refresh Token: No Valid Session Found")
    found = await conn.fetchrow("select id, session_id from auth.refresh_tokens where token = $1", token)
    if found is None:
        raise not_found
    if found["session_id"] is None:  # a token from before sessions existed: GoTrue drops it
        await conn.execute("delete from auth.refresh_tokens where id = $1", found["id"])
        return no_session
    session = await conn.fetchrow(
        """
        select id, created_at, coalesce(aal, 'aal1') as aal, coalesce(now() > not_after, false) as expired
        from auth.sessions where id = $1 for update
        """,
        found["session_id"],
    )
    row = await conn.fetchrow(
        """
        select token, user_id, revoked, parent, now() > updated_at + make_interval(secs => $2) as outside_window
        from auth.refresh_tokens where id = $1 for update
        """,
        found["id"],
        float(reuse_interval),
    )
    if session is None:
        raise no_session
    user = await _token_user(conn, row)
    if row is None or user is None:
        raise not_found
    if users.is_banned(user):
        raise errors.bad_request(errors.USER_BANNED, "Invalid Refresh Token: User Banned")
    if session["expired"]:
        raise errors.bad_request(errors.SESSION_EXPIRED, "Invalid Refresh Token: Session Expired")
    return session, row, user


async def _token_user(conn: asyncpg.Connection, row: Row | None) -> Row | None:
    if row is None:
        return None
    try:
        user_id = UUID(row["user_id"])
    except (TypeError, ValueError):
        return None
    return await users.find_by_id(conn, user_id)


async def _reuse(conn: asyncpg.Connection, session_id: UUID, row: Row, token: str) -> str | errors.ApiError | None:
    """A revoked token was presented: the active token to hand back, None to swap again, or the error."""
    active = await conn.fetchrow(
        "select token, parent from auth.refresh_tokens where session_id = $1 and not revoked order by id desc limit 1",
        session_id,
    )
    if active is not None and active["parent"] == token:
        log.info(
            "refresh token reused: parent of the active token, handing the active token back",
            extra={"session_id": str(session_id)},
        )
        return str(active["token"])
    if active is None:  # the whole family was revoked (reuse detected before): never valid again
        log.warning("revoked refresh token of a revoked session presented", extra={"session_id": str(session_id)})
        return errors.bad_request(errors.REFRESH_TOKEN_ALREADY_USED, "Invalid Refresh Token: Already Used")
    if not row["outside_window"]:
        log.info("refresh token reused within the reuse interval", extra={"session_id": str(session_id)})
        return None
    await conn.execute(
        "update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and not revoked",
        session_id,
    )
    log.warning(
        "refresh token reuse detected outside the reuse interval: all tokens of the session revoked",
        extra={"session_id": str(session_id), "user_id": row["user_id"]},
    )
    return errors.bad_request(errors.REFRESH_TOKEN_ALREADY_USED, "Invalid Refresh Token: Already Used")


async def find_session(conn: asyncpg.Connection, session_id: UUID) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "select id, user_id, aal, created_at from auth.sessions where id = $1", session_id
    )
    return row


async def logout(conn: asyncpg.Connection, user_id: UUID, session_id: UUID | None, scope: str) -> None:
    """GoTrue's Logout: delete the sessions (their refresh tokens cascade) of the scope."""
    if session_id is not None and scope == "local":
        await conn.execute("delete from auth.sessions where id = $1", session_id)
    elif session_id is not None and scope == "others":
        await conn.execute("delete from auth.sessions where user_id = $1 and id <> $2", user_id, session_id)
    else:
        await conn.execute("delete from auth.sessions where user_id = $1", user_id)


async def take_flow_state(conn: asyncpg.Connection, auth_code: str, expiry: int) -> Row | None:
    """The PKCE flow state of an auth code, with whether it outlived the flow-state expiry."""
    row: Row | None = await conn.fetchrow(
        """
        select id, user_id, code_challenge, code_challenge_method, authentication_method, provider_type,
               coalesce(now() > coalesce(auth_code_issued_at, created_at) + make_interval(secs => $2), false)
                   as expired
        from auth.flow_state where auth_code = $1 for update
        """,
        auth_code,
        float(expiry),
    )
    return row
