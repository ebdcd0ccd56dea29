"""A shared world for the schema tests: two users with a row of every kind, on the session database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest


@dataclass(frozen=True)
class World:
    """Ids of the rows the tests act on. `owner` owns every user row; `other` owns none of them."""

    dsn: str  # superuser DSN of the migrated and seeded database
    owner: str
    other: str
    coach: str
    inactive_coach: str
    category: str  # stress: check-ins enabled
    category2: str  # sleep
    parent_category: str  # mind: no check-ins
    spare_category: str
    conversation: str
    message: str  # the owner's user message
    reply: str  # the assistant message answering it
    checkin: str  # a draft
    completed_checkin: str
    recommendation: str
    goal: str
    weekly_plan: str  # the week of 2026-11-30
    daily_plan: str  # 2026-12-01, in that week
    plan_item: str
    tool_call: str  # made by `reply`
    note: str
    task: str  # extracted from `note`
    reflection: str
    note_scan: str
    knowledge_chunk: str  # the owner's (of no row any job touches)

    def ids(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if k != "dsn"}


async def create_user(conn: asyncpg.Connection, display_name: str, **meta: str) -> str:
    """Insert an auth user as Auth would (the sign-up trigger creates the profile)."""
    user_id = str(uuid.uuid4())
    await conn.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at) "
        "values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, now())",
        user_id,
        f"{user_id}@example.com",
        json.dumps({"display_name": display_name, **meta}),
    )
    return user_id


async def _build(dsn: str) -> World:
    conn = await asyncpg.connect(dsn)
    try:
        owner = await create_user(conn, "Ana Owner")
        other = await create_user(conn, "Ben Other")
        tag = uuid.uuid4().hex[:8]
        coach = await conn.fetchval("select id::text from public.coaches where slug = 'maya'")
        inactive_coach = await conn.fetchval(
            "insert into public.coaches (slug, name, intro, is_active) values ($1, 'Retired', 'Hello', false) "
            "returning id::text",
            f"retired-{tag}",
        )
        category = await conn.fetchval("select id::text from public.categories where slug = 'stress'")
        category2 = await conn.fetchval("select id::text from public.categories where slug = 'sleep'")
        parent_category = await conn.fetchval("select id::text from public.categories where slug = 'mind'")
        spare_category = await conn.fetchval(
            # Inactive, like the retired coach: other tests sharing the database never see these rows.
            "insert into public.categories (slug, name, is_active) values ($1, 'Spare', false) returning id::text",
            f"spare-{tag}",
        )
        await conn.execute("insert into public.user_categories (user_id, category_id) values ($1, $2)", owner, category)
        conversation = await conn.fetchval(
            "insert into public.conversations (user_id, coach_id, title) values ($1, $2, 'First chat') "
            "returning id::text",
            owner,
            coach,
        )
        message = await conn.fetchval(
            "insert into public.messages (conversation_id, user_id, role, content) "
            "values ($1, $2, 'user', 'I feel stretched thin this week.') returning id::text",
            conversation,
            owner,
        )
        # The reply pipeline's trigger (issue 6) inserts the pending reply; without it, insert one.
        reply = await conn.fetchval("select id::text from public.messages where reply_to = $1", message)
        if reply is None:
            reply = await conn.fetchval(
                "insert into public.messages (conversation_id, user_id, role, status, reply_to) "
                "values ($1, $2, 'assistant', 'pending', $3) returning id::text",
                conversation,
                owner,
                message,
            )
        checkin = await conn.fetchval(
            "insert into public.checkins (user_id, category_id, level) values ($1, $2, 4) returning id::text",
            owner,
            category,
        )
        completed_checkin = await conn.fetchval(
            "insert into public.checkins (user_id, category_id, level, answers, status) "
            "values ($1, $2, 6, '{\"tension\": 3}', 'completed') returning id::text",
            owner,
            category,
        )
        recommendation = await conn.fetchval(
            "insert into public.recommendations (user_id, checkin_id, category_id, title, importance, model) "
            "values ($1, $2, $3, 'Take a ten-minute walk after lunch', 3, 'offline') returning id::text",
            owner,
            completed_checkin,
            category,
        )
        await conn.execute(
            "insert into public.user_summaries (user_id, summary, key_facts) values ($1, 'Works in a busy team.', $2)",
            owner,
            json.dumps([{"id": str(uuid.uuid4()), "fact": "Has a daughter", "source_message_id": message}]),
        )
        goal = await conn.fetchval(
            "insert into public.goals (user_id, title) values ($1, 'Run a 10k') returning id::text", owner
        )
        weekly_plan = await conn.fetchval(
            "insert into public.weekly_plans (user_id, week_start_date) values ($1, '2026-11-30') returning id::text",
            owner,
        )
        daily_plan = await conn.fetchval(
            "insert into public.daily_plans (user_id, date, weekly_plan_id) values ($1, '2026-12-01', $2) "
            "returning id::text",
            owner,
            weekly_plan,
        )
        plan_item = await conn.fetchval(
            "insert into public.plan_items (user_id, daily_plan_id, goal_id, title) values ($1, $2, $3, 'Easy 5k') "
            "returning id::text",
            owner,
            daily_plan,
            goal,
        )
        tool_call = await conn.fetchval(
            "insert into public.tool_calls (message_id, conversation_id, user_id, step, position, tool_use_id, name, "
            "input) values ($1, $2, $3, 1, 1, 'toolu_world', 'get_plan', '{}') returning id::text",
            reply,
            conversation,
            owner,
        )
        note = await conn.fetchval(
            "insert into public.notes (user_id, title, content) values ($1, 'Errands', $2::jsonb) returning id::text",
            owner,
            json.dumps([{"id": "blk-1", "type": "paragraph", "content": [{"type": "text", "text": "Buy milk"}]}]),
        )
        task = await conn.fetchval(
            "insert into public.tasks (user_id, title, source, source_note_id, source_block_id) "
            "values ($1, 'Buy milk', 'note', $2, 'blk-1') returning id::text",
            owner,
            note,
        )
        reflection = await conn.fetchval(
            "insert into public.reflections (user_id, type, content) values ($1, 'gratitude', 'A calm morning.') "
            "returning id::text",
            owner,
        )
        note_scan = await conn.fetchval(
            "insert into public.note_scans (user_id, image_path) values ($1::uuid, $1::text || '/page.png') "
            "returning id::text",
            owner,
        )
        knowledge_chunk = await conn.fetchval(
            "insert into public.knowledge_chunks (source, source_id, owner_id, chunk_index, content, model, "
            "dimensions, embedding, content_hash) values ('notes', gen_random_uuid(), $1, 0, 'Buy milk', "
            "'wordllama-l2-supercat-256', 256, array_fill(0.1, array[256])::extensions.vector, 'x') returning id::text",
            owner,
        )
        return World(
            dsn=dsn,
            owner=owner,
            other=other,
            coach=coach,
            inactive_coach=inactive_coach,
            category=category,
            category2=category2,
            parent_category=parent_category,
            spare_category=spare_category,
            conversation=conversation,
            message=message,
            reply=reply,
            checkin=checkin,
            completed_checkin=completed_checkin,
            recommendation=recommendation,
            goal=goal,
            weekly_plan=weekly_plan,
            daily_plan=daily_plan,
            plan_item=plan_item,
            tool_call=tool_call,
            note=note,
            task=task,
            reflection=reflection,
            note_scan=note_scan,
            knowledge_chunk=knowledge_chunk,
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def world(database: str) -> Iterator[World]:
    yield asyncio.run(_build(database))
