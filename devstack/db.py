"""Connection pools of the gateway's services, each logged in as the role its real counterpart uses."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger("devstack.db")


def role_dsn(superuser_dsn: str, role: str, password: str) -> str:
    """The same server and database as `superuser_dsn`, logged in as `role`."""
    parts = urlsplit(superuser_dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class Database:
    """Pools for the gateway's services, one per role: `auth()` as supabase_auth_admin (GoTrue), and
    `pool(role)` for the others (Realtime: supabase_admin). The REST app keeps its own authenticator pool.

    Pools open lazily on first use so the gateway starts even while Postgres is still coming up.
    """

    dsn: str  # a superuser DSN; per-role DSNs are derived from it
    password: str
    auth_pool_size: int = 4
    api_pool_size: int = 8
    _pools: dict[str, asyncpg.Pool] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def pool(self, role: str) -> asyncpg.Pool:
        existing = self._pools.get(role)
        if existing is not None:
            return existing
        async with self._lock:
            if role not in self._pools:
                size = self.auth_pool_size if role == "supabase_auth_admin" else self.api_pool_size
                self._pools[role] = await asyncpg.create_pool(
                    role_dsn(self.dsn, role, self.password),
                    min_size=1,
                    max_size=size,
                    command_timeout=30,
                )
                log.info("pool open", extra={"role": role, "max_size": size})
            return self._pools[role]

    async def auth(self) -> asyncpg.Pool:
        return await self.pool("supabase_auth_admin")

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)
