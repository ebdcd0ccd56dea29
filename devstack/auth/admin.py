"""/admin/users: list, create, get, update and delete users with a service_role (or supabase_admin) token."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote_plus
from uuid import UUID, uuid4

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack.auth import account, audit, errors, passwords, sessions, users
from devstack.auth.grants import insert_user_or_fail
from devstack.auth.principal import require_admin
from devstack.auth.schemas import (
    AdminDeleteParams,
    AdminUserParams,
    check_user_metadata,
    parse_ban_duration,
    validate_email,
    validate_phone,
)
from devstack.auth.users import NewUser, Row
from devstack.auth.web import AuthContext, client_of, json_response, parse_params, request_aud

log = logging.getLogger("devstack.auth")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000
MAX_PAGE = 2**31 - 1
_UINT = re.compile(r"^[0-9]+$")


def _parse_uint(name: str, raw: str, default: int) -> int:
    if raw == "":
        return default
    if not _UINT.match(raw):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f'Bad Pagination Parameters: strconv.ParseUint: parsing "{raw}": invalid syntax'
        )
    value = int(raw)
    if value == 0:
        raise errors.bad_request(errors.VALIDATION_FAILED, f"Bad Pagination Parameters: {name} must be greater than 0")
    return value


def _pagination(request: Request) -> tuple[int, int]:
    """GoTrue's Paginate: empty values mean page 1 and 50 per page (both clients send `page=&per_page=`)."""
    page = _parse_uint("page", request.query_params.get("page", ""), 1)
    per_page = _parse_uint("per_page", request.query_params.get("per_page", ""), DEFAULT_PER_PAGE)
    if page > MAX_PAGE:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "Bad Pagination Parameters: page exceeds maximum allowed value"
        )
    if per_page > MAX_PER_PAGE:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f"Bad Pagination Parameters: per_page must not exceed {MAX_PER_PAGE}"
        )
    return page, per_page


def _go_encode(values: dict[str, list[str]]) -> str:
    """Go's url.Values.Encode: keys sorted, QueryEscape'd keys and values."""
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k in sorted(values) for v in values[k])


def pagination_link(path: str, raw_query: str, page: int, per_page: int, total: int) -> str:
    """GoTrue's Link header: `next` (when there is one) and `last`, re-encoding the request's query."""
    total_pages = max(-(-total // per_page), 1)
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    header = ""
    if total_pages > page:
        values["page"] = [str(page + 1)]
        header += f'<{path}?{_go_encode(values)}>; rel="next", '
    values["page"] = [str(total_pages)]
    return header + f'<{path}?{_go_encode(values)}>; rel="last"'


async def list_users(request: Request, ctx: AuthContext) -> Response:
    claims = require_admin(request, ctx.config)
    page, per_page = _pagination(request)
    aud = request_aud(request, ctx.config, claims)
    pattern = f"%{request.query_params['filter']}%" if request.query_params.get("filter") else None
    where = "aud = $1 and ($2::text is null or email like $2 or raw_user_meta_data->>'full_name' ilike $2)"
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"select count(*) from auth.users where {where}", aud, pattern)
        rows = await conn.fetch(
            f"select {users.USER_COLUMNS} from auth.users where {where} order by created_at desc, id"
            " limit $3 offset $4",
            aud,
            pattern,
            per_page,
            (page - 1) * per_page,
        )
        identities = await users.identities_of(conn, [row["id"] for row in rows])
    headers = {
        "Link": pagination_link("/admin/users", request.url.query, page, per_page, total),
        "X-Total-Count": str(total),
    }
    body = {"users": [users.user_json(row, identities[row["id"]]) for row in rows], "aud": aud}
    return json_response(body, headers=headers)


async def _load_user(request: Request, conn: asyncpg.Connection) -> Row:
    """GoTrue's loadUser: 404 validation_failed for a malformed id, 404 user_not_found for an unknown one."""
    try:
        user_id = UUID(request.path_params["user_id"])
    except ValueError as exc:
        raise errors.not_found(errors.VALIDATION_FAILED, "user_id must be an UUID") from exc
    user = await users.find_by_id(conn, user_id)
    if user is None:
        raise errors.not_found(errors.USER_NOT_FOUND, "User not found")
    return user


async def get_user(request: Request, ctx: AuthContext) -> Response:
    require_admin(request, ctx.config)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        user = await _load_user(request, conn)
        return json_response(await users.user_with_identities(conn, user))


def _custom_id(raw: str) -> UUID:
    try:
        value = UUID(raw)
    except ValueError as exc:
        raise errors.bad_request(errors.VALIDATION_FAILED, "ID must conform to the uuid v4 format") from exc
    if value.int == 0:
        raise errors.bad_request(errors.VALIDATION_FAILED, "ID cannot be a nil uuid")
    return value


async def _validated_create(ctx: AuthContext, params: AdminUserParams, aud: str) -> tuple[str, str, list[str]]:
    """Email, phone and providers of a new user; 422 when the email or phone is taken."""
    if not params.email and not params.phone:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Cannot create a user without either an email or phone")
    email = validate_email(params.email) if params.email else ""
    phone = validate_phone(params.phone) if params.phone else ""
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        if email and await users.email_taken(conn, email, aud):
            raise errors.unprocessable(errors.EMAIL_EXISTS, account.DUPLICATE_EMAIL)
        if phone and await users.phone_taken(conn, phone, aud):
            raise errors.unprocessable(errors.PHONE_EXISTS, "Phone number already registered by another user")
    if params.password is not None and params.password_hash:
        raise errors.bad_request(errors.VALIDATION_FAILED, "Only a password or a password hash should be provided")
    if params.password_hash and not passwords.is_bcrypt_hash(params.password_hash):
        raise errors.bad_request(errors.VALIDATION_FAILED, "password_hash must be a bcrypt hash")
    providers = [name for name, value in (("email", email), ("phone", phone)) if value]
    return email, phone, providers


async def create_user(request: Request, ctx: AuthContext) -> Response:
    """GoTrue's adminUserCreate; unlike /signup it does not check password strength."""
    claims = require_admin(request, ctx.config)
    params = await parse_params(request, AdminUserParams, ctx.config.max_body_bytes)
    check_user_metadata(params.user_metadata, ctx.config.max_user_metadata_bytes)
    aud = params.aud or request_aud(request, ctx.config, claims)
    email, phone, providers = await _validated_create(ctx, params, aud)
    user_id = _custom_id(params.id) if params.id else uuid4()
    ban = parse_ban_duration(params.ban_duration)
    password_hash = params.password_hash or await passwords.hash_password(
        params.password or passwords.random_password()
    )
    new = NewUser(
        id=user_id,
        aud=aud,
        role=params.role or ctx.config.default_role,
        email=email or None,
        phone=phone or None,
        password_hash=password_hash,
        app_metadata={"provider": providers[0], "providers": providers},
        user_metadata=params.user_metadata or {},
    )
    client = client_of(request)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        async with conn.transaction():
            await insert_user_or_fail(conn, new, errors.EMAIL_EXISTS, account.DUPLICATE_EMAIL)
            for provider, value in (("email", email), ("phone", phone)):
                if value:
                    data = {provider: value, "email_verified": False, "phone_verified": False, "sub": str(user_id)}
                    await users.insert_identity(conn, user_id, provider, data)
            traits = {"user_id": str(user_id), "user_email": email, "user_phone": phone}
            await audit.record(conn, audit.Actor.admin(claims["role"]), "user_signedup", client.ip, traits)
            user = await _apply_admin_flags(conn, user_id, params, ban)
        log.info("admin created user", extra={"user_id": str(user_id), "email": email or None})
        return json_response(await users.user_with_identities(conn, user))


async def _apply_admin_flags(
    conn: asyncpg.Connection, user_id: UUID, params: AdminUserParams, ban: float | None
) -> Row:
    """app_metadata merge, confirmations and ban, shared by create and update."""
    user: Row | None = None
    if params.app_metadata is not None:
        user = await users.update_metadata(conn, user_id, "raw_app_meta_data", params.app_metadata)
    if params.email_confirm:
        user = await users.confirm_email(conn, user_id)
    if params.phone_confirm:
        user = await users.set_columns(conn, user_id, "phone_confirmed_at = now()")
    if ban is not None:
        until = "null" if ban == 0 else "now() + make_interval(secs => $2)"
        user = await users.set_columns(conn, user_id, f"banned_until = {until}", *([] if ban == 0 else [ban]))
    if user is None:
        user = await users.find_by_id(conn, user_id)
    assert user is not None
    return user


async def update_user(request: Request, ctx: AuthContext) -> Response:
    """GoTrue's adminUserUpdate: email/phone change at once, a new password ends all sessions."""
    config = ctx.config
    claims = require_admin(request, config)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        user = await _load_user(request, conn)
    params = await parse_params(request, AdminUserParams, config.max_body_bytes)
    check_user_metadata(params.user_metadata, config.max_user_metadata_bytes)
    email = validate_email(params.email) if params.email else ""
    phone = validate_phone(params.phone) if params.phone else ""
    ban = parse_ban_duration(params.ban_duration)
    password_hash = None
    if params.password is not None:
        passwords.check_strength(params.password, config.min_password_length)
        password_hash = await passwords.hash_password(params.password)
    await account.check_unique(ctx, user, user["aud"], email, phone)
    client = client_of(request)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await _admin_update(conn, user, params, email, phone, password_hash)
            traits = {"user_id": str(user["id"]), "user_email": user["email"], "user_phone": user["phone"]}
            await audit.record(conn, audit.Actor.admin(claims["role"]), "user_modified", client.ip, traits)
            fresh = await _apply_admin_flags(conn, user["id"], params, ban)
        log.info("admin updated user", extra={"user_id": str(user["id"])})
        return json_response(await users.user_with_identities(conn, fresh))


async def _admin_update(
    conn: asyncpg.Connection, user: Row, params: AdminUserParams, email: str, phone: str, password_hash: str | None
) -> None:
    user_id = user["id"]
    if params.role:
        await users.set_columns(conn, user_id, "role = $2", params.role)
    if password_hash is not None:
        await account.set_password(conn, user_id, password_hash, None)
    for provider, value, confirmed in (("email", email, params.email_confirm), ("phone", phone, params.phone_confirm)):
        if not value:
            continue
        updates: dict[str, Any] = {provider: value, f"{provider}_verified": confirmed}
        if not await users.update_identity_data(conn, user_id, provider, updates):
            data = {provider: value, "email_verified": False, "phone_verified": False, "sub": str(user_id)}
            await users.insert_identity(conn, user_id, provider, {**data, **updates})
            providers = await conn.fetch("select distinct provider from auth.identities where user_id = $1", user_id)
            names = sorted(r["provider"] for r in providers)
            await users.update_metadata(conn, user_id, "raw_app_meta_data", {"providers": names})
        await users.set_columns(conn, user_id, f"{provider} = $2", value)
    if params.user_metadata is not None:
        await users.update_metadata(conn, user_id, "raw_user_meta_data", params.user_metadata)


def _obfuscate(user_id: UUID, value: str) -> str:
    digest = hashlib.sha256((str(user_id) + value).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _soft_delete(conn: asyncpg.Connection, user: Row) -> None:
    """GoTrue's SoftDeleteUser: obfuscate email/phone, drop credentials and metadata, end sessions."""
    if user["deleted_at"] is not None:
        return
    uid = user["id"]
    await users.set_columns(
        conn,
        uid,
        "email = $2, phone = $3, encrypted_password = null, email_change = $4, phone_change = $5,"
        " confirmation_token = '', recovery_token = '', email_change_token_current = '',"
        " email_change_token_new = '', phone_change_token = '', deleted_at = now(),"
        " raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb",
        _obfuscate(uid, user["email"] or ""),
        _obfuscate(uid, user["phone"] or "")[:15],
        _obfuscate(uid, user["email_change"] or ""),
        _obfuscate(uid, user["phone_change"] or "")[:15],
    )
    await sessions.logout(conn, uid, None, "global")
    for identity in await conn.fetch("select id, provider, provider_id from auth.identities where user_id = $1", uid):
        await conn.execute(
            "update auth.identities set identity_data = '{}'::jsonb, provider_id = $2 where id = $1",
            identity["id"],
            _obfuscate(uid, f"{identity['provider']}:{identity['provider_id']}"),
        )


async def delete_user(request: Request, ctx: AuthContext) -> Response:
    """200 `{}`; `should_soft_delete` keeps an obfuscated row, else the user and its sessions go."""
    claims = require_admin(request, ctx.config)
    pool = await ctx.db.auth()
    async with pool.acquire() as conn:
        user = await _load_user(request, conn)
    params = await parse_params(request, AdminDeleteParams, ctx.config.max_body_bytes, empty_ok=True)
    client = client_of(request)
    async with pool.acquire() as conn, conn.transaction():
        traits = {"user_id": str(user["id"]), "user_email": user["email"], "user_phone": user["phone"]}
        await audit.record(conn, audit.Actor.admin(claims["role"]), "user_deleted", client.ip, traits)
        if params.should_soft_delete:
            await _soft_delete(conn, user)
        else:
            await conn.execute("delete from auth.users where id = $1", user["id"])
    log.info("admin deleted user", extra={"user_id": str(user["id"]), "soft": params.should_soft_delete})
    return json_response({})
