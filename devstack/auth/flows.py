"""The emailed flows that start a verification: /otp, /recover, /resend, /reauthenticate, /invite and
/admin/generate_link. Each stores a one-time token and mails it to the mail catcher (generate_link hands
it back instead); /verify (devstack/auth/verify.py) completes them.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack.auth import account, audit, errors, mailer, onetime, passwords, users
from devstack.auth.grants import create_email_user
from devstack.auth.principal import authenticate, require_admin
from devstack.auth.schemas import (
    GenerateLinkParams,
    InviteParams,
    OtpParams,
    RecoverParams,
    ResendParams,
    check_user_metadata,
    validate_email,
)
from devstack.auth.users import Row
from devstack.auth.web import AuthContext, client_of, json_response, parse_params, request_aud

log = logging.getLogger("devstack.auth")


def _challenge(code_challenge: str, method: str) -> tuple[str, str] | None:
    return (code_challenge, method) if code_challenge or method else None


def _redirect(request: Request, ctx: AuthContext, body_value: str = "") -> str:
    return mailer.redirect_target(ctx, request.query_params.get("redirect_to") or body_value or None)


async def _mail(
    ctx: AuthContext, conn: asyncpg.Connection, user: Row, kind: str, redirect: str, challenge: tuple[str, str] | None
) -> None:
    """Issue a token of `kind` and send it, refused (429) within max_frequency of the previous one."""
    mailer.check_frequency(ctx, await onetime.last_sent(conn, user["id"], kind))
    link = await onetime.issue(ctx, conn, user, kind, redirect, challenge)
    mailer.send(ctx, kind, user["email"] or "", link)


async def otp(request: Request, ctx: AuthContext) -> Response:
    """Magic link / email OTP sign-in; creates the user first when allowed (then a confirmation if required)."""
    params = await parse_params(request, OtpParams, ctx.config.max_body_bytes)
    ctx.limiter.check("sign_in_sign_ups", client_of(request).ip)
    if params.phone:
        raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Unsupported phone provider")
    email = validate_email(params.email)
    check_user_metadata(params.data, ctx.config.max_user_metadata_bytes)
    project = ctx.config.project
    challenge = _challenge(params.code_challenge, params.code_challenge_method)
    redirect = _redirect(request, ctx)
    aud = request_aud(request, ctx.config)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        user = await users.find_by_email(conn, email, aud)
        if user is None:
            if not params.create_user:
                raise errors.unprocessable(errors.OTP_DISABLED, "Signups not allowed for otp")
            if not (project.enable_signup and project.email_enable_signup):
                raise errors.unprocessable(errors.SIGNUP_DISABLED, "Signups not allowed for this instance")
            user = await create_email_user(conn, ctx.config, aud, email, None, params.data or {})
            await audit.record(conn, audit.Actor.of_user(user), "user_signedup", client_of(request).ip)
            if not project.enable_confirmations:
                user = await users.confirm_email(conn, user["id"])
        kind = "magiclink" if user["email_confirmed_at"] is not None else "signup"
        await _mail(ctx, conn, user, kind, redirect, challenge)
    return json_response({})


async def recover(request: Request, ctx: AuthContext) -> Response:
    """Password reset email; an unknown address answers the same `{}` (no enumeration)."""
    params = await parse_params(request, RecoverParams, ctx.config.max_body_bytes)
    email = validate_email(params.email)
    challenge = _challenge(params.code_challenge, params.code_challenge_method)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        user = await users.find_by_email(conn, email, request_aud(request, ctx.config))
        if user is not None:
            await audit.record(conn, audit.Actor.of_user(user), "user_recovery_requested", client_of(request).ip)
            await _mail(ctx, conn, user, "recovery", _redirect(request, ctx), challenge)
    return json_response({})


async def resend(request: Request, ctx: AuthContext) -> Response:
    """Send a sign-up confirmation or a pending email change's messages again."""
    params = await parse_params(request, ResendParams, ctx.config.max_body_bytes)
    if params.type not in ("signup", "email_change", "sms", "phone_change"):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "Missing one of these types: signup, email_change, sms, phone_change"
        )
    if params.type in ("sms", "phone_change"):
        raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Unsupported phone provider")
    email = validate_email(params.email)
    redirect = _redirect(request, ctx)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        user = await users.find_by_email(conn, email, request_aud(request, ctx.config))
        if user is None:
            return json_response({})
        if params.type == "signup" and user["email_confirmed_at"] is None:
            await _mail(ctx, conn, user, "signup", redirect, None)
        elif params.type == "email_change" and user["email_change"]:
            await onetime.send_email_change(ctx, conn, user, user["email_change"], redirect)
    return json_response({})


async def reauthenticate(request: Request, ctx: AuthContext) -> Response:
    """Mail a code (the `nonce` a password change may require) to the signed-in user."""
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        principal = await authenticate(request, conn, ctx.config)
    user = principal.user
    if not user["email"]:
        raise errors.unprocessable(errors.VALIDATION_FAILED, "Reauthentication requires the user to have an email")
    async with pool.acquire() as conn, conn.transaction():
        await _mail(ctx, conn, user, "reauthentication", ctx.config.project.site_url, None)
    return json_response({})


async def invite(request: Request, ctx: AuthContext) -> Response:
    """Create (or re-invite) an unconfirmed user and mail the invitation; the user object comes back."""
    claims = require_admin(request, ctx.config)
    params = await parse_params(request, InviteParams, ctx.config.max_body_bytes)
    email = validate_email(params.email)
    check_user_metadata(params.data, ctx.config.max_user_metadata_bytes)
    aud = request_aud(request, ctx.config, claims)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            user = await users.find_by_email(conn, email, aud)
            if user is not None and user["email_confirmed_at"] is not None:
                raise errors.unprocessable(
                    errors.EMAIL_EXISTS, "A user with this email address has already been registered"
                )
            if user is None:
                user = await create_email_user(conn, ctx.config, aud, email, None, params.data or {})
            user = await users.set_columns(conn, user["id"], "invited_at = now()")
            traits = {"user_id": str(user["id"]), "user_email": email}
            await audit.record(conn, audit.Actor.admin(claims["role"]), "user_invited", client_of(request).ip, traits)
            await _mail(ctx, conn, user, "invite", _redirect(request, ctx), None)
            fresh = await users.find_by_id(conn, user["id"])
        assert fresh is not None
        return json_response(await users.user_with_identities(conn, fresh))


GENERATE_TYPES = ("signup", "invite", "magiclink", "recovery", "email_change_current", "email_change_new")


async def generate_link(request: Request, ctx: AuthContext) -> Response:
    """The link and code of an email, handed to the admin instead of sent (GoTrue's adminGenerateLink)."""
    claims = require_admin(request, ctx.config)
    params = await parse_params(request, GenerateLinkParams, ctx.config.max_body_bytes)
    if params.type not in GENERATE_TYPES:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Invalid email action link type requested")
    email = validate_email(params.email)
    check_user_metadata(params.data, ctx.config.max_user_metadata_bytes)
    aud = request_aud(request, ctx.config, claims)
    redirect = _redirect(request, ctx, params.redirect_to)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            user = await users.find_by_email(conn, email, aud)
            link, kind, user = await _generated(ctx, conn, params, aud, email, user, redirect)
            fresh = await users.find_by_id(conn, user["id"])
        assert fresh is not None
        body: dict[str, Any] = await users.user_with_identities(conn, fresh)
    verification_type = "email_change" if kind.startswith("email_change") else kind
    body.update(
        action_link=link.action_link,
        email_otp=link.otp,
        hashed_token=link.hashed,
        verification_type=verification_type,
        redirect_to=link.redirect_to,
    )
    return json_response(body)


async def _generated(
    ctx: AuthContext,
    conn: asyncpg.Connection,
    params: GenerateLinkParams,
    aud: str,
    email: str,
    user: Row | None,
    redirect: str,
) -> tuple[mailer.Link, str, Row]:
    kind = params.type
    if kind in ("signup", "invite") and user is not None and user["email_confirmed_at"] is not None:
        raise errors.unprocessable(errors.EMAIL_EXISTS, account.DUPLICATE_EMAIL)
    if user is None:
        if kind not in ("signup", "invite"):
            raise errors.not_found(errors.USER_NOT_FOUND, "User with this email not found")
        password_hash = None
        if kind == "signup":
            passwords.check_strength(params.password, ctx.config.min_password_length)
            password_hash = await passwords.hash_password(params.password)
        user = await create_email_user(conn, ctx.config, aud, email, password_hash, params.data or {})
    if kind == "invite":
        user = await users.set_columns(conn, user["id"], "invited_at = now()")
    if kind.startswith("email_change"):
        new_email = validate_email(params.new_email)
        new, current = await onetime.issue_email_change(ctx, conn, user, new_email, redirect)
        return (new if kind == "email_change_new" else current), kind, user
    return await onetime.issue(ctx, conn, user, kind, redirect), kind, user
