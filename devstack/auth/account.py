"""GET/PUT /user and POST /logout: what a signed-in user does with its own account."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from uuid import UUID

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack.auth import audit, errors, mailer, onetime, passwords, sessions, users
from devstack.auth.principal import Principal, authenticate
from devstack.auth.schemas import UserUpdateParams, check_user_metadata, validate_email, validate_phone
from devstack.auth.users import Row
from devstack.auth.web import AuthContext, claims_audience, client_of, json_response, parse_params, request_aud

log = logging.getLogger("devstack.auth")

DUPLICATE_EMAIL = "A user with this email address has already been registered"
DUPLICATE_PHONE = "A user with this phone number has already been registered"
LOGOUT_SCOPES = ("", "global", "local", "others")
# GoTrue's User.UpdatePassword: a new password voids every pending emailed or texted token.
_CLEAR_TOKENS = """
    encrypted_password = $2, confirmation_token = '', confirmation_sent_at = null, recovery_token = '',
    recovery_sent_at = null, email_change_token_current = '', email_change_token_new = '',
    email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,
    reauthentication_token = '', reauthentication_sent_at = null
"""


async def _principal(request: Request, ctx: AuthContext) -> Principal:
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        return await authenticate(request, conn, ctx.config)


async def get_user(request: Request, ctx: AuthContext) -> Response:
    principal = await _principal(request, ctx)
    if request_aud(request, ctx.config, principal.claims) != claims_audience(principal.claims):
        raise errors.bad_request(errors.VALIDATION_FAILED, "Token audience doesn't match request audience")
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        return json_response(await users.user_with_identities(conn, principal.user))


async def set_password(conn: asyncpg.Connection, user_id: UUID, password_hash: str | None, keep: UUID | None) -> Row:
    """Store a new hash and end every other session (all of them when `keep` is None)."""
    row = await users.set_columns(conn, user_id, _CLEAR_TOKENS, password_hash)
    if keep is None:
        await sessions.logout(conn, user_id, None, "global")
    else:
        await sessions.logout(conn, user_id, keep, "others")
    return row


def _token_hash(target: str) -> str:
    """A pending-change token as GoTrue stores it (sha224 of address + OTP)."""
    return hashlib.sha224((target + f"{secrets.randbelow(10**6):06d}").encode()).hexdigest()


async def _request_phone_change(conn: asyncpg.Connection, user: Row, phone: str) -> None:
    await users.set_columns(
        conn,
        user["id"],
        "phone_change = $2, phone_change_token = $3, phone_change_sent_at = now()",
        phone,
        _token_hash(phone),
    )
    log.info("phone change pending confirmation; the devstack sends no SMS", extra={"user_id": str(user["id"])})


async def check_unique(ctx: AuthContext, user: Row, aud: str, email: str, phone: str) -> None:
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        if email and email != user["email"] and await users.email_taken(conn, email, aud, user["id"]):
            raise errors.unprocessable(errors.EMAIL_EXISTS, DUPLICATE_EMAIL)
        if phone and phone != user["phone"] and await users.phone_taken(conn, phone, aud):
            raise errors.unprocessable(errors.PHONE_EXISTS, DUPLICATE_PHONE)


async def _new_password_hash(params: UserUpdateParams, user: Row) -> str | None:
    if params.password is None or not params.password:
        return None
    if await passwords.verify_password(params.password, user["encrypted_password"]):
        raise errors.unprocessable(errors.SAME_PASSWORD, "New password should be different from the old password.")
    return await passwords.hash_password(params.password)


async def update_user(request: Request, ctx: AuthContext) -> Response:
    """GoTrue's UserUpdate: `data` merges into user_metadata (null deletes), password and email changes."""
    config = ctx.config
    principal = await _principal(request, ctx)
    params = await parse_params(request, UserUpdateParams, config.max_body_bytes)
    check_user_metadata(params.data, config.max_user_metadata_bytes)
    email = validate_email(params.email) if params.email else ""
    phone = validate_phone(params.phone) if params.phone else ""
    if params.password is not None:
        passwords.check_strength(params.password, config.min_password_length)
    if params.app_metadata is not None:
        raise errors.forbidden(errors.NOT_ADMIN, "Updating app_metadata requires admin privileges")
    user = principal.user
    await check_unique(ctx, user, request_aud(request, config, principal.claims), email, phone)
    password_hash = await _new_password_hash(params, user)
    client = client_of(request)
    actor = audit.Actor.of_user(user)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            if params.password is not None:
                await _check_nonce(ctx, conn, user, params.nonce)
                await set_password(conn, user["id"], password_hash, principal.session_id)
                await audit.record(conn, actor, "user_updated_password", client.ip)
                log.info("password changed, other sessions ended", extra={"user_id": str(user["id"])})
            if params.data is not None:
                await users.update_metadata(conn, user["id"], "raw_user_meta_data", params.data)
            if email and email != user["email"]:
                redirect = mailer.redirect_target(ctx, request.query_params.get("redirect_to"))
                await onetime.send_email_change(ctx, conn, user, email, redirect)
            if phone and phone != user["phone"]:
                await _request_phone_change(conn, user, phone)
            await audit.record(conn, actor, "user_modified", client.ip)
            fresh = await users.find_by_id(conn, user["id"])
        if fresh is None:
            raise errors.forbidden(errors.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
        return json_response(await users.user_with_identities(conn, fresh))


async def _check_nonce(ctx: AuthContext, conn: asyncpg.Connection, user: Row, nonce: str) -> None:
    """A password change needs the reauthentication code when `secure_password_change` is on (or one is sent)."""
    if not nonce and not ctx.config.project.secure_password_change:
        return
    if not nonce:
        raise errors.bad_request(errors.REAUTHENTICATION_NEEDED, "Password update requires reauthentication")
    stored = await conn.fetchval(
        "select reauthentication_token from auth.users"
        " where id = $1 and reauthentication_sent_at > now() - make_interval(secs => $2)",
        user["id"],
        float(ctx.config.project.otp_expiry),
    )
    if not onetime.reauthentication_nonce_matches(user, stored or "", nonce):
        raise errors.unprocessable(errors.REAUTHENTICATION_NOT_VALID, "Requested nonce is invalid or expired")
    await users.set_columns(conn, user["id"], "reauthentication_token = '', reauthentication_sent_at = null")


async def logout(request: Request, ctx: AuthContext) -> Response:
    """204 after deleting the sessions of the scope: global (default), local or others."""
    principal = await _principal(request, ctx)
    scope = request.query_params.get("scope", "")
    if scope not in LOGOUT_SCOPES:
        raise errors.bad_request(errors.VALIDATION_FAILED, f"Unsupported logout scope {json.dumps(scope)}")
    client = client_of(request)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        await audit.record(conn, audit.Actor.of_user(principal.user), "logout", client.ip)
        await sessions.logout(conn, principal.user["id"], principal.session_id, scope or "global")
    log.info("signed out", extra={"user_id": str(principal.user["id"]), "scope": scope or "global"})
    return Response(status_code=204)
