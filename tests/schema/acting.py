"""Act as an API role exactly as PostgREST does: `authenticator`, then role and JWT claims per transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from devstack.db import role_dsn
from tests.conftest import PASSWORD

API_ROLES = ("anon", "authenticated", "service_role")


@dataclass(frozen=True)
class Actor:
    """Who a request comes from: a database role and, for `authenticated`, the user's id (JWT `sub`)."""

    role: str
    sub: str | None = None

    def claims(self) -> dict[str, str]:
        claims = {"role": self.role}
        if self.sub is not None:
            claims["sub"] = self.sub
        return claims


ANON = Actor("anon")
SERVICE = Actor("service_role")


def user(sub: str | uuid.UUID) -> Actor:
    return Actor("authenticated", str(sub))


@asynccontextmanager
async def acting(dsn: str, actor: Actor) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction running as `actor`; everything it did is rolled back at the end."""
    assert actor.role in API_ROLES, actor.role
    conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("select set_config('role', $1, true)", actor.role)
            await conn.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(actor.claims()))
            yield conn
        finally:
            await tx.rollback()
    finally:
        await conn.close()


def affected(status: str) -> int:
    """Rows an INSERT/UPDATE/DELETE status string reports (`INSERT 0 1`, `UPDATE 2`)."""
    return int(status.rsplit(" ", 1)[-1])
