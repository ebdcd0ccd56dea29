"""MFA with TOTP: /factors enroll, challenge, verify, unenroll, as GoTrue answers them.

Enrolment and verification follow `[auth.mfa.totp]` in config.toml (off in the CLI's template: enrolling
then answers 422 mfa_totp_enroll_not_enabled). A verified challenge raises the session to `aal2` and
adds `totp` to its `amr`; the response is a new session with a fresh refresh token.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pyotp
import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import Response

from devstack.auth import errors, sessions
from devstack.auth.grants import session_response
from devstack.auth.principal import Principal, authenticate
from devstack.auth.schemas import FactorEnrollParams, FactorVerifyParams
from devstack.auth.users import Row
from devstack.auth.web import AuthContext, client_of, json_response, parse_params

log = logging.getLogger("devstack.auth")

CHALLENGE_EXPIRY = timedelta(seconds=300)  # GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION
NO_CHALLENGE = "MFA factor with the provided challenge ID not found"


async def _principal(request: Request, ctx: AuthContext) -> Principal:
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        return await authenticate(request, conn, ctx.config)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;utf-8," + out.getvalue().decode()


async def enroll(request: Request, ctx: AuthContext) -> Response:
    principal = await _principal(request, ctx)
    params = await parse_params(request, FactorEnrollParams, ctx.config.max_body_bytes)
    project = ctx.config.project
    if params.factor_type != "totp":
        raise errors.bad_request(errors.VALIDATION_FAILED, "factor_type needs to be totp, phone or webauthn")
    if not project.totp_enroll_enabled:
        raise errors.unprocessable(errors.MFA_TOTP_ENROLL_NOT_ENABLED, "MFA enroll is disabled for TOTP")
    user = principal.user
    issuer = params.issuer or ctx.config.project.site_url.split("//")[-1]
    account = user["email"] or user["phone"] or str(user["id"])
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)
    factor_id = uuid4()
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval("select count(*) from auth.mfa_factors where user_id = $1", user["id"])
        if count >= project.mfa_max_enrolled_factors:
            raise errors.unprocessable(
                errors.TOO_MANY_ENROLLED_MFA_FACTORS, "Maximum number of verified factors reached, unenroll to continue"
            )
        try:
            await conn.execute(
                """insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at,
                                                 updated_at, secret)
                   values ($1, $2, $3, 'totp', 'unverified', now(), now(), $4)""",
                factor_id,
                user["id"],
                params.friendly_name,
                secret,
            )
        except asyncpg.UniqueViolationError as exc:
            message = f"A factor with the friendly name {params.friendly_name!r} for this user already exists"
            raise errors.unprocessable(errors.MFA_FACTOR_NAME_CONFLICT, message) from exc
    body = {
        "id": str(factor_id),
        "type": "totp",
        "friendly_name": params.friendly_name,
        "totp": {"qr_code": _qr_svg(uri), "secret": secret, "uri": uri},
    }
    log.info("TOTP factor enrolled", extra={"user_id": str(user["id"]), "factor_id": str(factor_id)})
    return json_response(body)


async def _factor(conn: asyncpg.Connection, principal: Principal, raw: str) -> Row:
    try:
        factor_id = UUID(raw)
    except ValueError as exc:
        raise errors.not_found(errors.MFA_FACTOR_NOT_FOUND, "Factor not found") from exc
    row: Row | None = await conn.fetchrow(
        "select * from auth.mfa_factors where id = $1 and user_id = $2 for update", factor_id, principal.user["id"]
    )
    if row is None:
        raise errors.not_found(errors.MFA_FACTOR_NOT_FOUND, "Factor not found")
    return row


async def challenge(request: Request, ctx: AuthContext) -> Response:
    principal = await _principal(request, ctx)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        factor = await _factor(conn, principal, request.path_params["factor_id"])
        challenge_id = uuid4()
        created = await conn.fetchval(
            """insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
               values ($1, $2, now(), cast($3::text as inet)) returning created_at""",
            challenge_id,
            factor["id"],
            client_of(request).ip or "127.0.0.1",
        )
        await conn.execute("update auth.mfa_factors set last_challenged_at = now() where id = $1", factor["id"])
    expires_at = int((created + CHALLENGE_EXPIRY).timestamp())
    return json_response({"id": str(challenge_id), "type": factor["factor_type"], "expires_at": expires_at})


async def verify(request: Request, ctx: AuthContext) -> Response:
    principal = await _principal(request, ctx)
    params = await parse_params(request, FactorVerifyParams, ctx.config.max_body_bytes)
    if not ctx.config.project.totp_verify_enabled:
        raise errors.unprocessable(errors.MFA_TOTP_VERIFY_NOT_ENABLED, "MFA verification is disabled for TOTP")
    ctx.limiter.check("token_verifications", client_of(request).ip)
    if principal.session_id is None:
        raise errors.forbidden(errors.SESSION_NOT_FOUND, "Session not found")
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            factor = await _factor(conn, principal, request.path_params["factor_id"])
            await _check_challenge(conn, factor, params)
            if not pyotp.TOTP(factor["secret"]).verify(params.code, valid_window=1):
                raise errors.unprocessable(errors.MFA_VERIFICATION_FAILED, "Invalid TOTP code entered")
            await conn.execute(
                "update auth.mfa_challenges set verified_at = now() where id = $1", UUID(params.challenge_id)
            )
            await conn.execute(
                "update auth.mfa_factors set status = 'verified', updated_at = now() where id = $1", factor["id"]
            )
            await conn.execute(
                "update auth.sessions set aal = 'aal2', factor_id = $2, updated_at = now() where id = $1",
                principal.session_id,
                factor["id"],
            )
            await sessions.add_amr(conn, principal.session_id, "totp")
            grant = await sessions.rotate(conn, principal.user["id"], principal.session_id)
        log.info("TOTP verified: session at aal2", extra={"user_id": str(principal.user["id"])})
        return await session_response(conn, ctx.config, principal.user["id"], grant)


async def _check_challenge(conn: asyncpg.Connection, factor: Row, params: FactorVerifyParams) -> None:
    try:
        challenge_id = UUID(params.challenge_id)
    except ValueError as exc:
        raise errors.not_found(
            errors.MFA_FACTOR_NOT_FOUND, "MFA factor with the provided challenge ID not found"
        ) from exc
    row = await conn.fetchrow(
        "select created_at, verified_at from auth.mfa_challenges where id = $1 and factor_id = $2",
        challenge_id,
        factor["id"],
    )
    if row is None:
        raise errors.not_found(errors.MFA_FACTOR_NOT_FOUND, NO_CHALLENGE)
    if row["verified_at"] is not None or row["created_at"] + CHALLENGE_EXPIRY < datetime.now(UTC):
        raise errors.unprocessable(
            errors.MFA_CHALLENGE_EXPIRED,
            f"MFA challenge {challenge_id} has expired, verify against another challenge or create a new challenge.",
        )


async def unenroll(request: Request, ctx: AuthContext) -> Response:
    principal = await _principal(request, ctx)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn, conn.transaction():
        factor = await _factor(conn, principal, request.path_params["factor_id"])
        if factor["status"] == "verified" and principal.claims.get("aal") != "aal2":
            raise errors.ApiError(403, errors.INSUFFICIENT_AAL, "AAL2 required to unenroll verified factor")
        await conn.execute("delete from auth.mfa_factors where id = $1", factor["id"])
    return json_response({"id": str(factor["id"])})
