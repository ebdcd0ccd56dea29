"""Fixtures of the job tests: a superuser connection to the session's migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def admin(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database)
    try:
        yield conn
    finally:
        await conn.close()
