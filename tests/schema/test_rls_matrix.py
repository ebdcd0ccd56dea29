"""Who may do what, per table: every table in an exposed schema, by role and command, written as data.

Roles act exactly as PostgREST makes them act (`authenticator`, then role and JWT claims per transaction):
`anon`; the `owner` of the rows; an `other` signed-in user; `service_role` (the workers). For catalogue
tables the owner and the other user are just two signed-in users. Each statement targets the owner's
row (or, for inserts, creates one for the owner), and runs in a transaction that is rolled back.

Allowed: the statement succeeds and sees or changes at least one row. Refused: permission denied / RLS
(SQLSTATE 42501) or zero rows. Any other error is a broken matrix entry, not a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest

from tests.schema.acting import ANON, SERVICE, Actor, acting, affected, user
from tests.schema.child_matrix import CHILD_MATRIX
from tests.schema.conftest import World

ROLES = ("anon", "owner", "other", "service_role")
COMMANDS = ("select", "insert", "update", "delete")
EXPOSED_SCHEMAS = ("public", "graphql_public")


@dataclass(frozen=True)
class Cell:
    sql: str
    allowed: frozenset[str]  # the roles for which the statement is allowed


def cell(sql: str, *allowed: str) -> Cell:
    assert set(allowed) <= set(ROLES), allowed
    return Cell(sql, frozenset(allowed))


OWNER_AND_SERVICE = ("owner", "service_role")
SIGNED_IN_AND_SERVICE = ("owner", "other", "service_role")
SERVICE_ONLY = ("service_role",)

ALL = ("anon", "owner", "other", "service_role")

MATRIX: dict[str, dict[str, Cell]] = {
    # Crisis lines: readable by everyone, signed in or not (an app's help page); edited by operators.
    "crisis_resources": {
        "select": cell("select 1 from public.crisis_resources where country = 'US'", *ALL),
        "insert": cell(
            "insert into public.crisis_resources (country, language, name, phone) values ('US', 'en', 'Matrix', '1')",
            *SERVICE_ONLY,
        ),
        "update": cell("update public.crisis_resources set hours = '24/7' where country = 'US'", *SERVICE_ONLY),
        "delete": cell("delete from public.crisis_resources where country = 'US'", *SERVICE_ONLY),
    },
    "profiles": {
        "select": cell("select 1 from public.profiles where id = {owner}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.profiles (id) values ({owner}) on conflict (id) do update set locale = excluded.locale",
            *SERVICE_ONLY,
        ),
        "update": cell("update public.profiles set display_name = 'Changed' where id = {owner}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.profiles where id = {owner}", *SERVICE_ONLY),
    },
    "coaches": {
        "select": cell("select 1 from public.coaches where id = {coach}", *SIGNED_IN_AND_SERVICE),
        "insert": cell(
            "insert into public.coaches (slug, name, intro) values ('matrix-coach', 'Matrix', 'Hello')",
            *SERVICE_ONLY,
        ),
        "update": cell("update public.coaches set description = 'Changed' where id = {coach}", *SERVICE_ONLY),
        "delete": cell("delete from public.coaches where id = {inactive_coach}", *SERVICE_ONLY),
    },
    "categories": {
        "select": cell("select 1 from public.categories where id = {category}", *SIGNED_IN_AND_SERVICE),
        "insert": cell(
            "insert into public.categories (slug, name) values ('matrix-category', 'Matrix')", *SERVICE_ONLY
        ),
        "update": cell("update public.categories set description = 'Changed' where id = {category}", *SERVICE_ONLY),
        "delete": cell("delete from public.categories where id = {spare_category}", *SERVICE_ONLY),
    },
    "user_categories": {
        "select": cell(
            "select 1 from public.user_categories where user_id = {owner} and category_id = {category}",
            *OWNER_AND_SERVICE,
        ),
        "insert": cell(
            "insert into public.user_categories (user_id, category_id) values ({owner}, {category2})",
            *OWNER_AND_SERVICE,
        ),
        "update": cell(
            "update public.user_categories set is_favourite = true "
            "where user_id = {owner} and category_id = {category}",
            *OWNER_AND_SERVICE,
        ),
        "delete": cell(
            "delete from public.user_categories where user_id = {owner} and category_id = {category}",
            *OWNER_AND_SERVICE,
        ),
    },
    "conversations": {
        "select": cell("select 1 from public.conversations where id = {conversation}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.conversations (user_id, coach_id, title) values ({owner}, {coach}, 'Matrix')",
            *OWNER_AND_SERVICE,
        ),
        "update": cell(
            "update public.conversations set title = 'Renamed' where id = {conversation}", *OWNER_AND_SERVICE
        ),
        "delete": cell("delete from public.conversations where id = {conversation}", *OWNER_AND_SERVICE),
    },
    "messages": {
        "select": cell("select 1 from public.messages where id = {message}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.messages (conversation_id, user_id, role, content) "
            "values ({conversation}, {owner}, 'user', 'Hello again')",
            *OWNER_AND_SERVICE,
        ),
        "update": cell("update public.messages set content = 'Edited' where id = {message}", *SERVICE_ONLY),
        "delete": cell("delete from public.messages where id = {reply}", *SERVICE_ONLY),
    },
    "checkins": {
        "select": cell("select 1 from public.checkins where id = {checkin}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.checkins (user_id, category_id, level) values ({owner}, {category}, 5)",
            *OWNER_AND_SERVICE,
        ),
        "update": cell("update public.checkins set note = 'Long day.' where id = {checkin}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.checkins where id = {checkin}", *OWNER_AND_SERVICE),
    },
    "recommendations": {
        "select": cell("select 1 from public.recommendations where id = {recommendation}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.recommendations (user_id, checkin_id, category_id, title, importance) "
            "values ({owner}, {completed_checkin}, {category}, 'Write tomorrow''s plan tonight', 2)",
            *SERVICE_ONLY,
        ),
        "update": cell(
            "update public.recommendations set status = 'accepted' where id = {recommendation}", *OWNER_AND_SERVICE
        ),
        "delete": cell("delete from public.recommendations where id = {recommendation}", *SERVICE_ONLY),
    },
    "user_summaries": {
        "select": cell("select 1 from public.user_summaries where user_id = {owner}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.user_summaries (user_id, summary) values ({owner}, 'Rewritten') "
            "on conflict (user_id) do update set summary = excluded.summary",
            *SERVICE_ONLY,
        ),
        "update": cell("update public.user_summaries set summary = 'Changed' where user_id = {owner}", *SERVICE_ONLY),
        "delete": cell("delete from public.user_summaries where user_id = {owner}", *SERVICE_ONLY),
    },
    "goals": {
        "select": cell("select 1 from public.goals where id = {goal}", *OWNER_AND_SERVICE),
        "insert": cell("insert into public.goals (user_id, title) values ({owner}, 'Read more')", *OWNER_AND_SERVICE),
        "update": cell("update public.goals set progress = 40 where id = {goal}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.goals where id = {goal}", *OWNER_AND_SERVICE),
    },
    "weekly_plans": {
        "select": cell("select 1 from public.weekly_plans where id = {weekly_plan}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.weekly_plans (user_id, week_start_date) values ({owner}, '2026-12-07')",
            *OWNER_AND_SERVICE,
        ),
        "update": cell("update public.weekly_plans set summary = 'Rest' where id = {weekly_plan}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.weekly_plans where id = {weekly_plan}", *OWNER_AND_SERVICE),
    },
    "daily_plans": {
        "select": cell("select 1 from public.daily_plans where id = {daily_plan}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.daily_plans (user_id, date) values ({owner}, '2026-12-02')", *OWNER_AND_SERVICE
        ),
        "update": cell("update public.daily_plans set status = 'active' where id = {daily_plan}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.daily_plans where id = {daily_plan}", *OWNER_AND_SERVICE),
    },
    "plan_items": {
        "select": cell("select 1 from public.plan_items where id = {plan_item}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.plan_items (user_id, daily_plan_id, title) values ({owner}, {daily_plan}, 'Stretch')",
            *OWNER_AND_SERVICE,
        ),
        "update": cell("update public.plan_items set status = 'done' where id = {plan_item}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.plan_items where id = {plan_item}", *OWNER_AND_SERVICE),
    },
    "tool_calls": {
        "select": cell("select 1 from public.tool_calls where id = {tool_call}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.tool_calls (message_id, conversation_id, user_id, step, position, tool_use_id, name, "
            "input) values ({reply}, {conversation}, {owner}, 1, 2, 'toolu_matrix', 'get_plan', '{{}}')",
            *SERVICE_ONLY,
        ),
        "update": cell(
            "update public.tool_calls set status = 'failed', result = '{{}}', is_error = true where id = {tool_call}",
            *SERVICE_ONLY,
        ),
        # Nobody deletes one: they go with their reply (cascade).
        "delete": cell("delete from public.tool_calls where id = {tool_call}"),
    },
    "notes": {
        "select": cell("select 1 from public.notes where id = {note}", *OWNER_AND_SERVICE),
        "insert": cell("insert into public.notes (user_id, title) values ({owner}, 'Matrix')", *OWNER_AND_SERVICE),
        "update": cell("update public.notes set pinned = true where id = {note}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.notes where id = {note}", *OWNER_AND_SERVICE),
    },
    "tasks": {
        "select": cell("select 1 from public.tasks where id = {task}", *OWNER_AND_SERVICE),
        "insert": cell("insert into public.tasks (user_id, title) values ({owner}, 'Call Mum')", *OWNER_AND_SERVICE),
        "update": cell("update public.tasks set status = 'done' where id = {task}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.tasks where id = {task}", *OWNER_AND_SERVICE),
    },
    "reflections": {
        "select": cell("select 1 from public.reflections where id = {reflection}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.reflections (user_id, content) values ({owner}, 'A good day.')", *OWNER_AND_SERVICE
        ),
        "update": cell("update public.reflections set mood = 7 where id = {reflection}", *OWNER_AND_SERVICE),
        "delete": cell("delete from public.reflections where id = {reflection}", *OWNER_AND_SERVICE),
    },
    "note_scans": {
        "select": cell("select 1 from public.note_scans where id = {note_scan}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.note_scans (user_id, image_path) values ({owner}, {owner} || '/matrix.png')",
            *OWNER_AND_SERVICE,
        ),
        # Its status and note are the transcription job's.
        "update": cell("update public.note_scans set hint = 'Changed' where id = {note_scan}", *SERVICE_ONLY),
        "delete": cell("delete from public.note_scans where id = {note_scan}", *OWNER_AND_SERVICE),
    },
    "knowledge_chunks": {
        "select": cell("select 1 from public.knowledge_chunks where id = {knowledge_chunk}", *OWNER_AND_SERVICE),
        "insert": cell(
            "insert into public.knowledge_chunks (source, source_id, owner_id, chunk_index, content, model, "
            "dimensions, embedding, content_hash) values ('notes', {note}, {owner}, 9, 'x', 'm', 3, '[1,0,0]', 'x')",
            *SERVICE_ONLY,
        ),
        "update": cell("update public.knowledge_chunks set content = 'y' where id = {knowledge_chunk}", *SERVICE_ONLY),
        "delete": cell("delete from public.knowledge_chunks where id = {knowledge_chunk}", *SERVICE_ONLY),
    },
}

CASES = [(table, command, role) for table in MATRIX for command in COMMANDS for role in ROLES]


def actor_for(role: str, world: World) -> Actor:
    return {"anon": ANON, "owner": user(world.owner), "other": user(world.other), "service_role": SERVICE}[role]


def render(sql: str, world: World) -> str:
    return sql.format(**{name: f"'{value}'" for name, value in world.ids().items()})


async def attempt(world: World, role: str, command: str, sql: str) -> bool:
    """Run the statement as the role; True when allowed (rows seen or changed), False when refused."""
    async with acting(world.dsn, actor_for(role, world)) as conn:
        try:
            if command == "select":
                return len(await conn.fetch(sql)) > 0
            return affected(await conn.execute(sql)) > 0
        except asyncpg.InsufficientPrivilegeError:
            return False


@pytest.mark.parametrize(("table", "command", "role"), CASES, ids=["-".join(c) for c in CASES])
async def test_matrix(world: World, table: str, command: str, role: str) -> None:
    entry = MATRIX[table][command]
    expected = role in entry.allowed
    allowed = await attempt(world, role, command, render(entry.sql, world))
    verb = "may" if expected else "must not"
    assert allowed == expected, f"{role} {verb} {command} on {table}"


async def test_every_exposed_table_has_a_full_matrix(world: World) -> None:
    conn = await asyncpg.connect(world.dsn)
    try:
        tables = {
            r["relname"]
            for r in await conn.fetch(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = any($1) and c.relkind in ('r', 'p') and not c.relispartition",
                list(EXPOSED_SCHEMAS),
            )
        }
    finally:
        await conn.close()
    # The child-scoped tables have their own matrix (six roles): tests/schema/child_matrix.py.
    assert tables == set(MATRIX) | set(CHILD_MATRIX), "add a MATRIX (or CHILD_MATRIX) entry for every exposed table"
    for table, commands in MATRIX.items():
        assert set(commands) == set(COMMANDS), f"{table}: every command needs a row"
