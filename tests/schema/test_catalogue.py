"""The shipped catalogue: coaches, categories, guidelines, prompts and settings, as a fresh install has them."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD
from tests.schema.acting import SERVICE, acting, user
from tests.schema.conftest import World, create_user

SHIPPED_COACHES = {"maya", "theo", "noor", "ada", "lior", "iris"}
PLANNER_PROMPT = {"ada": "chat_reply.planner@v1", "lior": "chat_reply.journey@v2", "iris": "chat_reply.second_brain@v1"}
WORKER_KINDS = [
    "chat_reply", "checkin_analysis", "recommendations", "user_summary", "conversation_summary", "followup",
    "document_analysis", "video_analysis", "journey_report", "expert_matching", "task_extraction",
    "note_transcription",
]  # fmt: skip


@pytest.fixture
async def studio(world: World) -> asyncpg.Connection:
    """A connection as `postgres`, the role Supabase Studio and migrations use."""
    conn = await asyncpg.connect(role_dsn(world.dsn, "postgres", PASSWORD))
    yield conn
    await conn.close()


async def test_a_signed_in_user_sees_the_catalogue(world: World) -> None:
    async with acting(world.dsn, user(world.other)) as conn:
        coaches = await conn.fetch("select slug, name, intro from public.coaches order by sort_order")
        tree = await conn.fetch(
            "select p.slug as parent, array_agg(c.slug order by c.sort_order) as children "
            "from public.categories p join public.categories c on c.parent_id = p.id "
            "where p.slug in ('mind', 'body', 'relationships', 'work') group by p.slug, p.sort_order "
            "order by p.sort_order"
        )
    assert [c["slug"] for c in coaches] == [
        "maya",
        "theo",
        "noor",
        "ada",
        "lior",
        "iris",
    ]  # inactive coaches are hidden
    assert len({c["intro"] for c in coaches}) == 6
    assert {r["parent"]: r["children"] for r in tree} == {
        "mind": ["stress", "sleep", "mood"],
        "body": ["movement", "nutrition"],
        "relationships": ["connection", "parenting", "baby-feeding"],
        "work": ["focus", "career"],
    }


async def test_categories_are_two_levels_with_forms_and_guidelines(studio: asyncpg.Connection) -> None:
    rows = await studio.fetch(
        "select slug, has_guidelines, checkin_enabled, checkin_questions, category from internal.category_catalogue "
        "where slug in (select slug from public.categories where slug !~ '^(spare|retired)-')"
    )
    assert 12 <= len(rows) <= 16
    assert all(r["has_guidelines"] for r in rows), [r["slug"] for r in rows if not r["has_guidelines"]]
    subcategories = [r for r in rows if " > " in r["category"]]
    assert subcategories and all(r["checkin_enabled"] and r["checkin_questions"] >= 3 for r in subcategories)
    deepest = await studio.fetchval(
        "select count(*) from public.categories c join public.categories p on p.id = c.parent_id "
        "where p.parent_id is not null"
    )
    assert deepest == 0


async def test_every_coach_has_a_persona_and_every_job_kind_a_prompt(world: World) -> None:
    async with acting(world.dsn, SERVICE) as conn:
        for slug in SHIPPED_COACHES:
            coach = await conn.fetchval("select id from public.coaches where slug = $1", slug)
            persona = json.loads(await conn.fetchval("select internal.resolve_prompt('coach_persona', $1)", coach))
            assert persona["prompt_version"] == f"persona.{slug}@v1"
            assert persona["template"].startswith(f"You are {slug.title()}")
            reply = json.loads(await conn.fetchval("select internal.resolve_prompt('chat_reply', $1)", coach))
            assert reply["prompt_version"] == PLANNER_PROMPT.get(slug, "chat_reply@v1")
        for kind in WORKER_KINDS:
            prompt = json.loads(await conn.fetchval("select internal.resolve_prompt($1)", kind))
            assert prompt is not None, kind
            assert prompt["model"].startswith("claude-"), kind
            assert "{{" in prompt["template"], f"{kind}: a template fills in placeholders"
        rows = await conn.fetch("select key, value from internal.settings")
        settings = {r["key"]: json.loads(r["value"]) for r in rows}
        assert settings["model.default"] == "claude-sonnet-4-5"
        assert 1 <= settings["recommendations.max_per_checkin"] <= 5


async def test_prompts_use_only_documented_placeholders(studio: asyncpg.Connection) -> None:
    rows = await studio.fetch(
        "select p.name, p.description, v.template from internal.prompts p "
        "join internal.prompt_versions v on v.prompt_name = p.name"
    )
    for row in rows:
        for placeholder in set(re.findall(r"\{\{(\w+)\}\}", row["template"])):
            assert placeholder in row["description"], f"{row['name']}: document {{{{{placeholder}}}}}"


async def test_guidelines_come_parent_first(world: World) -> None:
    async with acting(world.dsn, SERVICE) as conn:
        rows = json.loads(await conn.fetchval("select internal.category_guidelines($1)", world.category2))
    assert [r["slug"] for r in rows] == ["mind", "sleep"]


async def test_a_prompt_version_is_frozen_and_a_new_one_is_activated(studio: asyncpg.Connection) -> None:
    async with studio.transaction():
        with pytest.raises(asyncpg.CheckViolationError, match="insert version 2 instead"):
            await studio.execute(
                "update internal.prompt_versions set template = 'Be brief.' where prompt_name = 'chat_reply'"
            )
    tx = studio.transaction()
    await tx.start()
    try:
        await studio.execute(
            "insert into internal.prompt_versions (prompt_name, version, template, change_note) "
            "values ('chat_reply', 2, 'You are {{coach_name}}. Be brief.', 'Shorter replies')"
        )
        await studio.execute("select internal.activate_prompt_version('chat_reply', 2)")
        active = await studio.fetch(
            "select prompt_version from internal.active_prompts where kind = 'chat_reply' and coach = '(default)'"
        )
        assert [r["prompt_version"] for r in active] == ["chat_reply@v2"]
    finally:
        await tx.rollback()


async def test_sign_up_creates_the_profile_from_metadata(world: World) -> None:
    conn = await asyncpg.connect(world.dsn)
    try:
        async with conn.transaction():
            await conn.execute("set local role supabase_auth_admin")  # Auth inserts users as this role
            ana = await create_user(conn, "  Ana Lima  ", timezone="America/Sao_Paulo", locale="pt-BR")
            bob = await create_user(conn, "", timezone="Not/AZone", locale="?")
        rows = await conn.fetch(
            "select id::text, display_name, timezone, locale from public.profiles where id = any($1::uuid[])",
            [ana, bob],
        )
    finally:
        await conn.close()
    profiles = {r["id"]: dict(r) for r in rows}
    assert profiles[ana] == {"id": ana, "display_name": "Ana Lima", "timezone": "America/Sao_Paulo", "locale": "pt-BR"}
    assert profiles[bob] == {"id": bob, "display_name": None, "timezone": "UTC", "locale": "en"}
