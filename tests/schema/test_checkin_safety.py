"""A check-in's words go through the safety rules before any coaching text is written from them, as a
message's do: words the rules rate a crisis get the crisis response and an escalation, and no model work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from tests.schema.conftest import World


@asynccontextmanager
async def as_the_owner(world: World) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection whose statements run as the world's owner until `reset role`; rolled back."""
    conn = await asyncpg.connect(world.dsn)
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("set local role authenticated")
        await conn.execute(
            "select set_config('request.jwt.claims', $1, true)",
            json.dumps({"sub": world.owner, "role": "authenticated"}),
        )
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


async def complete_a_checkin(conn: asyncpg.Connection, world: World, note: str) -> asyncpg.Record:
    checkin = await conn.fetchval(
        "insert into public.checkins (category_id, level, answers, note, status) "
        "values ($1, 2, '{\"tension\": 5}', $2, 'completed') returning id",
        world.category,
        note,
    )
    row = await conn.fetchrow(
        "select id, summary, insights, analysis_prompt_version from public.checkins where id = $1", checkin
    )
    await conn.execute("reset role")
    return row


@pytest.mark.parametrize(
    ("note", "response"),
    [
        ("I can't go on. I want to kill myself tonight.", "crisis"),
        # As a phone types it: a typographic apostrophe, two spaces (the rules read it normalised).
        ("my baby can\u2019t  breathe", "medical"),
    ],
)
async def test_a_crisis_in_a_checkins_note_gets_the_crisis_response_and_no_coaching(
    world: World, note: str, response: str
) -> None:
    async with as_the_owner(world) as conn:
        row = await complete_a_checkin(conn, world, note)
        jobs = await conn.fetch("select kind from internal.jobs where payload ->> 'checkin_id' = $1", str(row["id"]))
        escalation = await conn.fetchrow(
            "select risk_level::text, message_id from internal.escalations where checkin_id = $1", row["id"]
        )
        template = await conn.fetchval(
            "select template from internal.crisis_messages where kind = $1 and language = 'en'", response
        )
    assert row["analysis_prompt_version"] == f"crisis_messages:{response}"
    assert json.loads(row["insights"])["safety_concern"] is True
    assert row["summary"].startswith(template.split("{{resources}}")[0][:40])  # the crisis lines follow
    assert [j["kind"] for j in jobs] == []  # no analysis, so no recommendations or follow-up either
    assert escalation is not None and escalation["risk_level"] in ("elevated", "imminent")
    assert escalation["message_id"] is None


async def test_an_ordinary_checkin_is_analysed_as_before(world: World) -> None:
    async with as_the_owner(world) as conn:
        row = await complete_a_checkin(conn, world, "A long week, but I slept better.")
        jobs = await conn.fetch("select kind from internal.jobs where payload ->> 'checkin_id' = $1", str(row["id"]))
        escalations = await conn.fetchval("select count(*) from internal.escalations where checkin_id = $1", row["id"])
    assert row["summary"] is None and row["analysis_prompt_version"] is None
    assert [j["kind"] for j in jobs] == ["checkin_analysis"] and escalations == 0
