"""POST /signup and POST /token (password, refresh_token, pkce): the calls that hand out sessions.

Both ignore the Authorization header, as GoTrue does (supabase-py sends the user's JWT there).
The stack runs with the CLI's defaults: email sign-up on, auto-confirm on, phone and anonymous off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack.auth import audit, errors, mailer, onetime, passwords, sessions, users
from devstack.auth.schemas import (
    PasswordGrantParams,
    PKCEGrantParams,
    RefreshTokenGrantParams,
    SignupParams,
    check_user_metadata,
    validate_email,
    validate_pkce,
)
from devstack.auth.users import NewUser, Row
from devstack.auth.web import AuthConfig, AuthContext, client_of, json_response, parse_params, request_aud

log = logging.getLogger("devstack.auth")


async def session_response(
    conn: asyncpg.Connection,
    config: AuthConfig,
    user_id: UUID,
    grant: sessions.Grant,
    weak: errors.WeakPasswordError | None = None,
) -> Response:
    user = await users.find_by_id(conn, user_id)
    if user is None:  # deleted between the grant and now
        raise errors.forbidden(errors.USER_NOT_FOUND, "User not found")
    user_object = await users.user_with_identities(conn, user)
    return json_response(sessions.session_payload(config, user, user_object, grant, weak))


def _validate_signup(params: SignupParams, config: AuthConfig) -> None:
    """GoTrue's validateSignupParams, in its order."""
    if not params.password:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Signup requires a valid password")
    passwords.check_strength(params.password, config.min_password_length)
    if params.email and params.phone:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "Only an email address or phone number should be provided on signup."
        )
    if params.phone and params.code_challenge:
        raise errors.bad_request(errors.VALIDATION_FAILED, "PKCE not supported for phone signups")
    validate_pkce(params.code_challenge_method, params.code_challenge)


async def signup(request: Request, ctx: AuthContext) -> Response:
    config = ctx.config
    params = await parse_params(request, SignupParams, config.max_body_bytes)
    check_user_metadata(params.data, config.max_user_metadata_bytes)
    if not params.email and not params.phone:
        return await _anonymous_signup(request, ctx, params)
    ctx.limiter.check("sign_in_sign_ups", client_of(request).ip)
    if not (config.project.enable_signup and config.project.email_enable_signup):
        raise errors.unprocessable(errors.SIGNUP_DISABLED, "Signups not allowed for this instance")
    _validate_signup(params, config)
    if params.phone:
        raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Phone signups are disabled")
    email = validate_email(params.email)
    aud = request_aud(request, config)
    client = client_of(request)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        if await users.email_taken(conn, email, aud):
            log.info("sign-up refused: email already registered", extra={"email": email})
            raise errors.unprocessable(errors.USER_ALREADY_EXISTS, "User already registered")
    password_hash = await passwords.hash_password(params.password)  # outside any transaction: bcrypt is slow
    async with pool.acquire() as conn:
        async with conn.transaction():
            user = await create_email_user(conn, config, aud, email, password_hash, params.data or {})
            await audit.record(conn, audit.Actor.of_user(user), "user_signedup", client.ip, {"provider": "email"})
            if config.project.enable_confirmations:  # a confirmation email; the user signs in once confirmed
                challenge = (params.code_challenge, params.code_challenge_method) if params.code_challenge else None
                redirect = mailer.redirect_target(ctx, request.query_params.get("redirect_to"))
                link = await onetime.issue(ctx, conn, user, "signup", redirect, challenge)
                mailer.send(ctx, "signup", email, link)
                return json_response(await users.user_with_identities(conn, user))
            user = await users.confirm_email(conn, user["id"])  # auto-confirm, the CLI's default
            await audit.record(conn, audit.Actor.of_user(user), "login", client.ip, {"provider": "email"})
            grant = await sessions.start_session(conn, user["id"], client)
        log.info("user signed up", extra={"user_id": str(user["id"]), "email": email})
        return await session_response(conn, config, user["id"], grant)


async def _anonymous_signup(request: Request, ctx: AuthContext, params: SignupParams) -> Response:
    """An anonymous user (is_anonymous, no identity) and its session, when `enable_anonymous_sign_ins` is on."""
    config = ctx.config
    if not config.project.enable_anonymous_sign_ins:
        raise errors.unprocessable(errors.ANONYMOUS_PROVIDER_DISABLED, "Anonymous sign-ins are disabled")
    client = client_of(request)
    ctx.limiter.check("anonymous_users", client.ip)
    new = NewUser(
        id=uuid4(),
        aud=request_aud(request, config),
        role=config.default_role,
        email=None,
        phone=None,
        password_hash=None,
        app_metadata={"provider": "anonymous", "providers": ["anonymous"]},
        user_metadata=params.data or {},
    )
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            user = await insert_user_or_fail(conn, new, errors.USER_ALREADY_EXISTS, "User already registered")
            user = await users.set_columns(conn, new.id, "is_anonymous = true")
            await audit.record(conn, audit.Actor.of_user(user), "user_signedup", client.ip, {"provider": "anonymous"})
            grant = await sessions.start_session(conn, new.id, client, "anonymous")
        log.info("anonymous user signed in", extra={"user_id": str(new.id)})
        return await session_response(conn, config, new.id, grant)


async def create_email_user(
    conn: asyncpg.Connection, config: AuthConfig, aud: str, email: str, password_hash: str | None, data: dict[str, Any]
) -> Row:
    """Insert the user (with `data` as user_metadata, so insert triggers see it) and its email identity.

    As GoTrue's RemoveUnconfirmedIdentities does, user_metadata then becomes the identity data.
    """
    new = NewUser(
        id=uuid4(),
        aud=aud,
        role=config.default_role,
        email=email,
        phone=None,
        password_hash=password_hash,
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata=data,
    )
    await insert_user_or_fail(conn, new, errors.USER_ALREADY_EXISTS, "User already registered")
    identity_data: dict[str, Any] = {
        "email": email,
        "email_verified": False,
        "phone_verified": False,
        "sub": str(new.id),
    }
    for key, value in data.items():
        identity_data.setdefault(key, value)
    await users.insert_identity(conn, new.id, "email", identity_data)
    return await users.set_columns(conn, new.id, "raw_user_meta_data = $2::jsonb", json.dumps(identity_data))


async def insert_user_or_fail(conn: asyncpg.Connection, new: NewUser, duplicate_code: str, duplicate_msg: str) -> Row:
    """Insert a user; a duplicate email is 422, any other database error (a failing trigger) is GoTrue's 500."""
    try:
        return await users.insert_user(conn, new)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "users_pkey":
            raise errors.ApiError(409, errors.CONFLICT, "A user with this ID already exists") from exc
        raise errors.unprocessable(duplicate_code, duplicate_msg) from exc
    except asyncpg.PostgresError as exc:
        log.error(
            "database error saving new user (check triggers on auth.users)",
            extra={"sqlstate": exc.sqlstate, "error": str(exc)},
        )
        raise errors.internal("Database error saving new user") from exc


async def token(request: Request, ctx: AuthContext) -> Response:
    grant_type = request.query_params.get("grant_type", "")
    ip = client_of(request).ip
    if grant_type == "password":
        ctx.limiter.check("sign_in_sign_ups", ip)
        return await _password_grant(request, ctx)
    if grant_type == "refresh_token":
        ctx.limiter.check("token_refresh", ip)
        return await _refresh_grant(request, ctx)
    if grant_type == "pkce":
        ctx.limiter.check("sign_in_sign_ups", ip)
        return await _pkce_grant(request, ctx)
    raise errors.bad_request(errors.INVALID_CREDENTIALS, "unsupported_grant_type")


def _sign_in_failed(reason: str, email: str) -> errors.ApiError:
    log.info("sign-in failed", extra={"reason": reason, "email": email})
    return errors.bad_request(errors.INVALID_CREDENTIALS, "Invalid login credentials")


async def _password_grant(request: Request, ctx: AuthContext) -> Response:
    config = ctx.config
    params = await parse_params(request, PasswordGrantParams, config.max_body_bytes)
    if params.email and params.phone:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "Only an email address or phone number should be provided on login."
        )
    if params.phone:
        raise errors.unprocessable(errors.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    if not params.email:
        raise errors.bad_request(errors.VALIDATION_FAILED, "missing email or phone")
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        user = await users.find_by_email(conn, params.email, request_aud(request, config))
    if user is None:
        raise _sign_in_failed("no user with this email", params.email)
    if not user["encrypted_password"]:
        raise _sign_in_failed("user has no password", params.email)
    if users.is_banned(user):
        log.info("sign-in failed", extra={"reason": "user is banned", "email": params.email})
        raise errors.bad_request(errors.USER_BANNED, "User is banned")
    if not await passwords.verify_password(params.password, user["encrypted_password"]):
        raise _sign_in_failed("wrong password", params.email)
    if user["email_confirmed_at"] is None:
        log.info("sign-in failed", extra={"reason": "email not confirmed", "email": params.email})
        raise errors.bad_request(errors.EMAIL_NOT_CONFIRMED, "Email not confirmed")
    weak = passwords.weakness(params.password, config.min_password_length)
    client = client_of(request)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit.record(conn, audit.Actor.of_user(user), "login", client.ip, {"provider": "email"})
            grant = await sessions.start_session(conn, user["id"], client)
        log.info("user signed in", extra={"user_id": str(user["id"]), "session_id": str(grant.session_id)})
        return await session_response(conn, config, user["id"], grant, weak)


async def _refresh_grant(request: Request, ctx: AuthContext) -> Response:
    params = await parse_params(request, RefreshTokenGrantParams, ctx.config.max_body_bytes)
    if not params.refresh_token:
        raise errors.OAuthError("invalid_request", "refresh_token required")
    client = client_of(request)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        refreshed = await sessions.refresh(conn, ctx.config, params.refresh_token, client)
        log.debug("session refreshed", extra={"session_id": str(refreshed.grant.session_id)})
        user_object = await users.user_with_identities(conn, refreshed.user)
    return json_response(sessions.session_payload(ctx.config, refreshed.user, user_object, refreshed.grant, None))


def _verify_pkce(method: str, challenge: str, verifier: str) -> None:
    method = method.lower()
    if method == "s256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    elif method == "plain":
        expected = verifier
    else:
        raise errors.bad_request(errors.BAD_CODE_VERIFIER, "code challenge method not supported")
    if not hmac.compare_digest(expected.encode(), challenge.encode()):
        raise errors.bad_request(
            errors.BAD_CODE_VERIFIER, "code challenge does not match previously saved code verifier"
        )


async def _pkce_grant(request: Request, ctx: AuthContext) -> Response:
    config = ctx.config
    params = await parse_params(request, PKCEGrantParams, config.max_body_bytes)
    if not params.auth_code or not params.code_verifier:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "invalid request: both auth code and code verifier should be non-empty"
        )
    client = client_of(request)
    no_flow = errors.not_found(errors.FLOW_STATE_NOT_FOUND, "invalid flow state, no valid flow state found")
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            flow = await sessions.take_flow_state(conn, params.auth_code, config.flow_state_expiry)
            if flow is None or flow["user_id"] is None:
                raise no_flow
            if flow["expired"]:
                raise errors.unprocessable(errors.FLOW_STATE_EXPIRED, "invalid flow state, flow state has expired")
            user = await users.find_by_id(conn, flow["user_id"])
            if user is None:
                raise no_flow
            _verify_pkce(flow["code_challenge_method"], flow["code_challenge"], params.code_verifier)
            await audit.record(
                conn, audit.Actor.of_user(user), "login", client.ip, {"provider_type": flow["provider_type"]}
            )
            grant = await sessions.start_session(conn, user["id"], client, flow["authentication_method"])
            await conn.execute("delete from auth.flow_state where id = $1", flow["id"])
        log.info("PKCE code exchanged", extra={"user_id": str(user["id"])})
        return await session_response(conn, config, user["id"], grant)
