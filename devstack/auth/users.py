"""auth.users and auth.identities: the SQL GoTrue runs, and the user object as GoTrue serialises it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

NIL_UUID = UUID(int=0)
# What Go marshals for a zero time.Time: rows written by hand (seeds, tests) may leave created_at NULL.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

USER_COLUMNS = """
    id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, phone, phone_confirmed_at,
    confirmation_sent_at, confirmed_at, recovery_sent_at, email_change, email_change_sent_at, phone_change,
    phone_change_sent_at, reauthentication_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
    created_at, updated_at, banned_until, deleted_at, is_anonymous, is_sso_user
"""

Row = Mapping[str, Any]


@dataclass
class NewUser:
    """A user about to be inserted, with the values GoTrue's NewUser and SetRole give it."""

    id: UUID
    aud: str
    role: str
    email: str | None
    phone: str | None
    password_hash: str | None
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any] = field(default_factory=dict)


def iso(value: datetime | None) -> str | None:
    """A timestamp as Go's time.Time marshals it in UTC (RFC 3339, trailing zeros trimmed)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def load_json(value: str | None) -> dict[str, Any]:
    data = json.loads(value) if value else None
    return data if isinstance(data, dict) else {}


def merged(current: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """GoTrue's UpdateUserMetaData merge: keys are set, a `null` value deletes the key."""
    out = dict(current)
    for key, value in updates.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def is_banned(user: Row) -> bool:
    return user["banned_until"] is not None and user["banned_until"] > datetime.now(UTC)


def identity_json(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "identity_id": str(row["id"]),
        "id": row["provider_id"],
        "user_id": str(row["user_id"]),
        "identity_data": load_json(row["identity_data"]),
        "provider": row["provider"],
    }
    if row["last_sign_in_at"] is not None:
        out["last_sign_in_at"] = iso(row["last_sign_in_at"])
    out["created_at"] = iso(row["created_at"]) or GO_ZERO_TIME
    out["updated_at"] = iso(row["updated_at"]) or GO_ZERO_TIME
    if row["email"]:
        out["email"] = row["email"]
    return out


def user_json(row: Row, identities: Sequence[Row]) -> dict[str, Any]:
    """The user object in GoTrue's field order; `omitempty` fields appear only when set."""
    out: dict[str, Any] = {"id": str(row["id"]), "aud": row["aud"] or "", "role": row["role"] or ""}
    out["email"] = row["email"] or ""
    _put_time(out, "email_confirmed_at", row["email_confirmed_at"])
    _put_time(out, "invited_at", row["invited_at"])
    out["phone"] = row["phone"] or ""
    _put_time(out, "phone_confirmed_at", row["phone_confirmed_at"])
    _put_time(out, "confirmation_sent_at", row["confirmation_sent_at"])
    _put_time(out, "confirmed_at", row["confirmed_at"])
    _put_time(out, "recovery_sent_at", row["recovery_sent_at"])
    if row["email_change"]:
        out["new_email"] = row["email_change"]
    _put_time(out, "email_change_sent_at", row["email_change_sent_at"])
    if row["phone_change"]:
        out["new_phone"] = row["phone_change"]
    _put_time(out, "phone_change_sent_at", row["phone_change_sent_at"])
    _put_time(out, "reauthentication_sent_at", row["reauthentication_sent_at"])
    _put_time(out, "last_sign_in_at", row["last_sign_in_at"])
    out["app_metadata"] = load_json(row["raw_app_meta_data"])
    out["user_metadata"] = load_json(row["raw_user_meta_data"])
    out["identities"] = [identity_json(i) for i in identities]
    out["created_at"] = iso(row["created_at"]) or GO_ZERO_TIME
    out["updated_at"] = iso(row["updated_at"]) or GO_ZERO_TIME
    _put_time(out, "banned_until", row["banned_until"])
    _put_time(out, "deleted_at", row["deleted_at"])
    out["is_anonymous"] = bool(row["is_anonymous"])
    return out


def _put_time(out: dict[str, Any], key: str, value: datetime | None) -> None:
    if value is not None:
        out[key] = iso(value)


async def find_by_id(conn: asyncpg.Connection, user_id: UUID, *, lock: bool = False) -> Row | None:
    suffix = " for update" if lock else ""
    row: Row | None = await conn.fetchrow(f"select {USER_COLUMNS} from auth.users where id = $1{suffix}", user_id)
    return row


async def find_by_email(conn: asyncpg.Connection, email: str, aud: str) -> Row | None:
    row: Row | None = await conn.fetchrow(
        f"select {USER_COLUMNS} from auth.users where lower(email) = lower($1) and aud = $2 and not is_sso_user",
        email,
        aud,
    )
    return row


async def email_taken(conn: asyncpg.Connection, email: str, aud: str, exclude: UUID | None = None) -> bool:
    """GoTrue's IsDuplicatedEmail: an email identity or a user row of another user in the audience."""
    taken = await conn.fetchval(
        """
        select exists (
            select 1 from auth.identities i join auth.users u on u.id = i.user_id
            where i.email = lower($1) and u.aud = $2 and i.provider not like 'sso:%'
              and u.id is distinct from $3
        ) or exists (
            select 1 from auth.users
            where lower(email) = lower($1) and aud = $2 and not is_sso_user and id is distinct from $3
        )
        """,
        email,
        aud,
        exclude,
    )
    return bool(taken)


async def phone_taken(conn: asyncpg.Connection, phone: str, aud: str) -> bool:
    taken = await conn.fetchval(
        "select exists (select 1 from auth.users where phone = $1 and aud = $2 and not is_sso_user)", phone, aud
    )
    return bool(taken)


async def identities_of(conn: asyncpg.Connection, user_ids: Sequence[UUID]) -> dict[UUID, list[Row]]:
    rows = await conn.fetch(
        "select * from auth.identities where user_id = any($1::uuid[]) order by created_at, id", list(user_ids)
    )
    out: dict[UUID, list[Row]] = {uid: [] for uid in user_ids}
    for row in rows:
        out[row["user_id"]].append(row)
    return out


async def user_with_identities(conn: asyncpg.Connection, user: Row) -> dict[str, Any]:
    """The user object with its identities and (GoTrue's omitempty `factors`) its MFA factors."""
    identities = await identities_of(conn, [user["id"]])
    out = user_json(user, identities[user["id"]])
    factors = await conn.fetch(
        "select id, status, friendly_name, factor_type, created_at, updated_at from auth.mfa_factors"
        " where user_id = $1 order by created_at",
        user["id"],
    )
    if factors:
        out["factors"] = [
            {
                "id": str(f["id"]),
                "status": f["status"],
                "friendly_name": f["friendly_name"] or "",
                "factor_type": f["factor_type"],
                "created_at": iso(f["created_at"]),
                "updated_at": iso(f["updated_at"]),
            }
            for f in factors
        ]
    return out


async def insert_user(conn: asyncpg.Connection, new: NewUser) -> Row:
    """Insert as GoTrue does: empty strings (not NULL) in the token columns, nil instance_id."""
    row: Row = await conn.fetchrow(
        f"""
        insert into auth.users (
            instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
            created_at, updated_at, phone, confirmation_token, recovery_token, email_change_token_new,
            email_change, email_change_token_current, phone_change, phone_change_token, reauthentication_token,
            is_sso_user, is_anonymous
        ) values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, now(), now(), $9,
                  '', '', '', '', '', '', '', '', false, false)
        returning {USER_COLUMNS}
        """,
        NIL_UUID,
        new.id,
        new.aud,
        new.role,
        new.email,
        new.password_hash,
        json.dumps(new.app_metadata),
        json.dumps(new.user_metadata),
        new.phone,
    )
    return row


async def insert_identity(
    conn: asyncpg.Connection, user_id: UUID, provider: str, identity_data: Mapping[str, Any]
) -> Row:
    row: Row = await conn.fetchrow(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                                     created_at, updated_at)
        values ($1, $2, $3::jsonb, $4, now(), now(), now())
        returning *
        """,
        str(user_id),
        user_id,
        json.dumps(dict(identity_data)),
        provider,
    )
    return row


async def update_metadata(conn: asyncpg.Connection, user_id: UUID, column: str, updates: Mapping[str, Any]) -> Row:
    """Merge `updates` into raw_user_meta_data or raw_app_meta_data atomically (null deletes a key)."""
    if column not in ("raw_user_meta_data", "raw_app_meta_data"):
        raise ValueError(column)
    removed = [key for key, value in updates.items() if value is None]
    kept = {key: value for key, value in updates.items() if value is not None}
    row: Row = await conn.fetchrow(
        f"""
        update auth.users set {column} = (coalesce({column}, '{{}}'::jsonb) - $2::text[]) || $3::jsonb,
                              updated_at = now()
        where id = $1 returning {USER_COLUMNS}
        """,
        user_id,
        removed,
        json.dumps(kept),
    )
    return row


async def set_columns(conn: asyncpg.Connection, user_id: UUID, assignments: str, *args: Any) -> Row:
    """Update a user with a fixed SQL assignment list (never user input), bumping updated_at."""
    row: Row = await conn.fetchrow(
        f"update auth.users set {assignments}, updated_at = now() where id = $1 returning {USER_COLUMNS}",
        user_id,
        *args,
    )
    return row


async def confirm_email(conn: asyncpg.Connection, user_id: UUID) -> Row:
    """GoTrue's User.Confirm: stamp email_confirmed_at and set user_metadata.email_verified = true."""
    await set_columns(conn, user_id, "confirmation_token = '', email_confirmed_at = now()")
    return await update_metadata(conn, user_id, "raw_user_meta_data", {"email_verified": True})


async def update_identity_data(
    conn: asyncpg.Connection, user_id: UUID, provider: str, updates: Mapping[str, Any]
) -> bool:
    """Merge into the identity of `provider`; False when the user has no such identity."""
    removed = [key for key, value in updates.items() if value is None]
    kept = {key: value for key, value in updates.items() if value is not None}
    status = await conn.execute(
        """
        update auth.identities set identity_data = (identity_data - $3::text[]) || $4::jsonb, updated_at = now()
        where user_id = $1 and provider = $2
        """,
        user_id,
        provider,
        removed,
        json.dumps(kept),
    )
    return status != "UPDATE 0"
