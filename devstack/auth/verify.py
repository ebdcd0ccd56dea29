"""/verify: complete an emailed flow. POST (a code with the email, or a token hash) answers with a session;
GET (the emailed link) redirects to `redirect_to` with the session in the fragment, or with `?code=` for
a PKCE flow, or with the error in the fragment.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from devstack.auth import audit, errors, mailer, onetime, sessions, users
from devstack.auth.grants import session_response
from devstack.auth.schemas import VerifyParams, validate_email
from devstack.auth.users import Row
from devstack.auth.web import AuthContext, client_of, parse_params

log = logging.getLogger("devstack.auth")

# The amr method a verification signs in with (GoTrue's models.AuthenticationMethod).
METHODS = {"signup": "otp", "invite": "invite", "magiclink": "magiclink", "recovery": "recovery"}


async def _complete(conn: asyncpg.Connection, found: onetime.Found) -> Row:
    """Apply a verified token: confirm the email, or switch to the new one; the token is spent."""
    user, kind = found.user, found.kind
    if kind in ("signup", "invite"):
        await users.set_columns(conn, user["id"], "confirmation_token = ''")
        return await users.confirm_email(conn, user["id"])
    if kind in ("magiclink", "recovery"):
        await users.set_columns(conn, user["id"], "recovery_token = ''")
        if user["email_confirmed_at"] is None:
            return await users.confirm_email(conn, user["id"])
        fresh = await users.find_by_id(conn, user["id"])
        assert fresh is not None
        return fresh
    new_email = user["email_change"]
    await users.set_columns(
        conn,
        user["id"],
        "email = $2, email_change = '', email_change_token_new = '', email_change_token_current = '',"
        " email_change_sent_at = null, email_change_confirm_status = 0",
        new_email,
    )
    await users.update_identity_data(conn, user["id"], "email", {"email": new_email})
    return await users.update_metadata(conn, user["id"], "raw_user_meta_data", {"email": new_email})


async def _verify(ctx: AuthContext, conn: asyncpg.Connection, params: VerifyParams) -> onetime.Found:
    if params.type not in onetime.VERIFY_KINDS:
        raise errors.bad_request(errors.VALIDATION_FAILED, f"Invalid verification type {params.type!r}")
    if params.token_hash:
        return await onetime.find(ctx, conn, params.type, hashed=params.token_hash)
    if not params.token:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Verify requires a token or a token hash")
    if params.phone:
        raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Unsupported phone provider")
    if not params.email:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Verify requires an email address with a token")
    return await onetime.find(ctx, conn, params.type, email=validate_email(params.email), otp=params.token)


async def verify_post(request: Request, ctx: AuthContext) -> Response:
    params = await parse_params(request, VerifyParams, ctx.config.max_body_bytes)
    client = client_of(request)
    ctx.limiter.check("token_verifications", client.ip)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            found = await _verify(ctx, conn, params)
            user = await _complete(conn, found)
            await audit.record(conn, audit.Actor.of_user(user), "login", client.ip, {"provider": "email"})
            method = "otp" if params.token else METHODS.get(found.kind, "otp")
            grant = await sessions.start_session(conn, user["id"], client, method)
        log.info("verified", extra={"user_id": str(user["id"]), "type": params.type})
        return await session_response(conn, ctx.config, user["id"], grant)


async def verify_get(request: Request, ctx: AuthContext) -> Response:
    query = request.query_params
    params = VerifyParams(type=query.get("type", ""), token_hash=query.get("token", ""))
    redirect = mailer.redirect_target(ctx, query.get("redirect_to"))
    client = client_of(request)
    try:
        ctx.limiter.check("token_verifications", client.ip)
        pool = await ctx.db.auth()
        async with pool.acquire() as conn, conn.transaction():
            found = await _verify(ctx, conn, params)
            user = await _complete(conn, found)
            await audit.record(conn, audit.Actor.of_user(user), "login", client.ip, {"provider": "email"})
            if found.pkce:
                code = await _flow_code(conn, user["id"], found.kind)
                return RedirectResponse(_join(redirect, "?", {"code": code}), 303)
            grant = await sessions.start_session(conn, user["id"], client, METHODS.get(found.kind, "otp"))
            payload = await session_fragment(conn, ctx, user, grant, params.type)
    except errors.ApiError as exc:
        fragment = {"error": "access_denied" if exc.status == 403 else "server_error", "error_code": exc.code}
        expired = exc.code == errors.OTP_EXPIRED
        fragment["error_description"] = "Email link is invalid or has expired" if expired else exc.message
        return RedirectResponse(_join(redirect, "#", fragment), 303)
    return RedirectResponse(_join(redirect, "#", payload), 303)


async def session_fragment(
    conn: asyncpg.Connection, ctx: AuthContext, user: Row, grant: sessions.Grant, verify_type: str
) -> dict[str, str]:
    fresh = await users.find_by_id(conn, user["id"])
    assert fresh is not None
    body = sessions.session_payload(ctx.config, fresh, {}, grant, None)
    return {
        "access_token": body["access_token"],
        "expires_at": str(body["expires_at"]),
        "expires_in": str(body["expires_in"]),
        "refresh_token": body["refresh_token"],
        "token_type": "bearer",
        "type": verify_type,
    }


async def _flow_code(conn: asyncpg.Connection, user_id: object, kind: str) -> str:
    """The auth code of the PKCE flow state the email was sent for (exchanged at /token?grant_type=pkce)."""
    code = await conn.fetchval(
        """update auth.flow_state set auth_code_issued_at = now(), updated_at = now()
           where id = (select id from auth.flow_state where user_id = $1 and authentication_method = $2
                       order by created_at desc limit 1)
           returning auth_code""",
        user_id,
        kind,
    )
    if code is None:
        raise errors.not_found(errors.FLOW_STATE_NOT_FOUND, "invalid flow state, no valid flow state found")
    return str(code)


def _join(url: str, separator: str, values: dict[str, str]) -> str:
    joiner = "&" if separator in url else separator
    return f"{url}{joiner}{urlencode(values)}"
