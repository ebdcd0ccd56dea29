"""auth.audit_log_entries, written as GoTrue's NewAuditLogEntry does (Studio's auth logs read them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from devstack.auth.users import NIL_UUID, Row, load_json

LOG_TYPES = {
    "login": "account",
    "logout": "account",
    "user_signedup": "team",
    "user_deleted": "team",
    "token_revoked": "token",
    "token_refreshed": "token",
    "user_modified": "user",
    "user_repeated_signup": "user",
    "user_updated_password": "user",
}


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, or an admin token (GoTrue records the token's role as the username)."""

    id: UUID
    username: str
    name: Any = None

    @classmethod
    def of_user(cls, user: Row) -> Actor:
        username = user["phone"] or user["email"] or ""
        return cls(id=user["id"], username=username, name=load_json(user["raw_user_meta_data"]).get("full_name"))

    @classmethod
    def admin(cls, role: str) -> Actor:
        return cls(id=NIL_UUID, username=role)


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    ip: str | None,
    traits: dict[str, Any] | None = None,
) -> None:
    payload: dict[str, Any] = {
        "actor_id": str(actor.id),
        "actor_via_sso": False,
        "actor_username": actor.username,
        "action": action,
        "log_type": LOG_TYPES.get(action, ""),
    }
    if actor.name is not None:
        payload["actor_name"] = actor.name
    if traits is not None:
        payload["traits"] = traits
    await conn.execute(
        """
        insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
        values ($1, gen_random_uuid(), $2::json, now(), $3)
        """,
        NIL_UUID,
        json.dumps(payload, default=str),
        ip or "",
    )
