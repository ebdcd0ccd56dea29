"""One-time tokens on auth.users, as GoTrue keeps them: which column holds each kind, issuing and finding.

Confirmation (sign-up, invite) uses confirmation_token; magic link and recovery recovery_token; an email
change email_change_token_new/current; reauthentication reauthentication_token. Each `*_sent_at` stamps
when it went out: the OTP expiry and the per-address email frequency are measured from it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from devstack.auth import errors, mailer, users
from devstack.auth.schemas import validate_pkce
from devstack.auth.users import Row
from devstack.auth.web import AuthContext

# kind -> (token column, sent_at column)
COLUMNS: dict[str, tuple[str, str]] = {
    "signup": ("confirmation_token", "confirmation_sent_at"),
    "invite": ("confirmation_token", "confirmation_sent_at"),
    "magiclink": ("recovery_token", "recovery_sent_at"),
    "recovery": ("recovery_token", "recovery_sent_at"),
    "reauthentication": ("reauthentication_token", "reauthentication_sent_at"),
}
# What each `type` of /verify may match, in order.
VERIFY_KINDS: dict[str, tuple[str, ...]] = {
    "signup": ("signup",),
    "invite": ("invite",),
    "magiclink": ("magiclink",),
    "recovery": ("recovery",),
    "email": ("signup", "magiclink"),
    "email_change": ("email_change",),
}
EXPIRED = errors.forbidden(errors.OTP_EXPIRED, "Token has expired or is invalid")


def seconds_since(value: datetime | None) -> float | None:
    return None if value is None else (datetime.now(UTC) - value).total_seconds()


async def last_sent(conn: asyncpg.Connection, user_id: UUID, kind: str) -> float | None:
    column = "email_change_sent_at" if kind == "email_change" else COLUMNS[kind][1]
    sent = await conn.fetchval(f"select {column} from auth.users where id = $1", user_id)
    return seconds_since(sent)


async def issue(
    ctx: AuthContext,
    conn: asyncpg.Connection,
    user: Row,
    kind: str,
    redirect_to: str,
    challenge: tuple[str, str] | None = None,
) -> mailer.Link:
    """Store a new token of `kind` for the user (and a PKCE flow state when the client sent a challenge)."""
    if challenge is not None:
        validate_pkce(challenge[1], challenge[0])
    link = mailer.make_link(ctx, kind, user["email"] or "", redirect_to, pkce=challenge is not None)
    token_column, sent_column = COLUMNS[kind]
    await users.set_columns(conn, user["id"], f"{token_column} = $2, {sent_column} = now()", link.hashed)
    if challenge is not None:
        await conn.execute(
            """insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge,
                                            provider_type, authentication_method, created_at, updated_at)
               values ($1, $2, $3, $4, $5, 'email', $6, now(), now())""",
            uuid4(),
            user["id"],
            str(uuid4()),
            challenge[1].lower(),
            challenge[0],
            kind,
        )
    return link


async def issue_email_change(
    ctx: AuthContext, conn: asyncpg.Connection, user: Row, new_email: str, redirect_to: str
) -> tuple[mailer.Link, mailer.Link]:
    """Tokens for the new address and (double confirm) the current one; either completes the change."""
    new = mailer.make_link(ctx, "email_change", new_email, redirect_to)
    current = mailer.make_link(ctx, "email_change", user["email"] or "", redirect_to)
    await users.set_columns(
        conn,
        user["id"],
        "email_change = $2, email_change_token_new = $3, email_change_token_current = $4,"
        " email_change_sent_at = now(), email_change_confirm_status = 0",
        new_email,
        new.hashed,
        current.hashed,
    )
    return new, current


@dataclass(frozen=True)
class Found:
    user: Row
    kind: str
    pkce: bool


async def find(
    ctx: AuthContext, conn: asyncpg.Connection, verify_type: str, *, email: str = "", otp: str = "", hashed: str = ""
) -> Found:
    """The user whose token of `verify_type` matches an emailed code (with the email) or a token hash."""
    expiry = float(ctx.config.project.otp_expiry)
    for kind in VERIFY_KINDS.get(verify_type, ()):
        columns = (
            ("email_change_token_new", "email_change_token_current") if kind == "email_change" else (COLUMNS[kind][0],)
        )
        sent_column = "email_change_sent_at" if kind == "email_change" else COLUMNS[kind][1]
        for column in columns:
            if otp:
                address = "email_change" if column == "email_change_token_new" else "email"
                digest = f"encode(sha224(convert_to({address} || $2::text, 'UTF8')), 'hex')"
                condition = f"lower({address}) = lower($1::text) and {column} in ({digest}, 'pkce_' || {digest})"
                args: tuple[str, ...] = (email, otp)
            else:
                condition = f"{column} <> '' and {column} in ($1::text, 'pkce_' || $1::text)"
                args = (hashed,)
            row = await conn.fetchrow(
                f"select {users.USER_COLUMNS}, {column} as matched, {sent_column} as sent from auth.users"
                f" where {condition} for update",
                *args,
            )
            if row is None:
                continue
            since = seconds_since(row["sent"])
            if since is None or since > expiry:
                raise EXPIRED
            return Found(row, kind, str(row["matched"]).startswith("pkce_"))
    raise EXPIRED


def reauthentication_nonce_matches(user: Row, stored: str, nonce: str) -> bool:
    return bool(stored) and secrets.compare_digest(stored, mailer.token_hash(user["email"] or "", nonce))


async def send_email_change(
    ctx: AuthContext, conn: asyncpg.Connection, user: Row, new_email: str, redirect: str
) -> None:
    """Mail the new address (and with double confirm the current one) a link that completes the change."""
    mailer.check_frequency(ctx, await last_sent(conn, user["id"], "email_change"))
    new, current = await issue_email_change(ctx, conn, user, new_email, redirect)
    email = user["email"] or ""
    mailer.send(ctx, "email_change", new_email, new, email=email, new_email=new_email)
    if ctx.config.project.double_confirm_changes and email:
        mailer.send(ctx, "email_change", email, current, email=email, new_email=new_email)
