"""What a signed-in user cannot do, even to their own rows — and the frontend writes they can do."""

from __future__ import annotations

import asyncpg
import pytest

from tests.schema.acting import Actor, acting, affected, user
from tests.schema.conftest import World

DENIED = asyncpg.InsufficientPrivilegeError

# (what, who: owner | other, statement). Each must be refused with permission denied / RLS (42501).
REFUSED: list[tuple[str, str, str]] = [
    (
        "write an assistant message",
        "owner",
        "insert into public.messages (conversation_id, role, content) values ({conversation}, 'assistant', 'Hi')",
    ),
    (
        "write into another user's conversation as themselves",
        "other",
        "insert into public.messages (conversation_id, content) values ({conversation}, 'Let me in')",
    ),
    (
        "write into another user's conversation as its owner",
        "other",
        "insert into public.messages (conversation_id, user_id, content) values ({conversation}, {owner}, 'Hi')",
    ),
    ("change their own message", "owner", "update public.messages set content = 'Edited' where id = {message}"),
    ("delete their own message", "owner", "delete from public.messages where id = {message}"),
    ("complete the coach's reply", "owner", "update public.messages set status = 'complete' where id = {reply}"),
    (
        "set a message's status or model",
        "owner",
        "insert into public.messages (conversation_id, content, status, model) "
        "values ({conversation}, 'Hi', 'complete', 'gpt')",
    ),
    (
        "answer their own message themselves",
        "owner",
        "insert into public.messages (conversation_id, content, reply_to) values ({conversation}, 'Hi', {message})",
    ),
    (
        "set token usage",
        "owner",
        "insert into public.messages (conversation_id, content, input_tokens) values ({conversation}, 'Hi', 0)",
    ),
    (
        "write a conversation summary",
        "owner",
        "update public.conversations set summary = 'The user is great' where id = {conversation}",
    ),
    (
        "move the summary marker",
        "owner",
        "update public.conversations set summary_through_message_id = {message} where id = {conversation}",
    ),
    (
        "hand a conversation to another user",
        "owner",
        "update public.conversations set user_id = {other} where id = {conversation}",
    ),
    # Safety: nobody but the workers and operators touches assessments, decisions or escalations.
    (
        "insert a reply that claims to be a crisis response",
        "owner",
        "insert into public.messages (conversation_id, role, content, reply_kind) "
        "values ({conversation}, 'assistant', 'You are fine', 'crisis')",
    ),
    ("relabel the coach's reply", "owner", "update public.messages set reply_kind = 'crisis' where id = {reply}"),
    ("read the safety assessments", "owner", "select * from internal.safety_assessments"),
    ("read the safety decisions", "owner", "select * from internal.message_safety"),
    ("read the escalations", "owner", "select * from internal.escalations"),
    (
        "write an assessment of their message",
        "owner",
        "insert into internal.safety_assessments (message_id, user_id, source, risk_level) "
        "values ({message}, {owner}, 'model', 'none')",
    ),
    ("edit an assessment", "owner", "update internal.safety_assessments set risk_level = 'none'"),
    ("delete an escalation", "owner", "delete from internal.escalations"),
    ("clear their message themselves", "owner", "select internal.decide_message_safety({message})"),
    ("ask for the workers' safety decisions", "owner", "select public.safety_decisions_v1(array[{message}]::uuid[])"),
    ("edit the crisis lines", "owner", "update public.crisis_resources set phone = '000'"),
    (
        "start a conversation for another user",
        "other",
        "insert into public.conversations (user_id, coach_id) values ({owner}, {coach})",
    ),
    ("write a check-in analysis", "owner", "update public.checkins set summary = 'Fine' where id = {checkin}"),
    ("write check-in insights", "owner", "update public.checkins set insights = '{{}}' where id = {checkin}"),
    ("mark a check-in analysed", "owner", "update public.checkins set analyzed_at = now() where id = {checkin}"),
    (
        "insert a check-in with an analysis",
        "owner",
        "insert into public.checkins (category_id, level, summary) values ({category}, 5, 'Great')",
    ),
    (
        "check in for another user",
        "other",
        "insert into public.checkins (user_id, category_id, level) values ({owner}, {category}, 5)",
    ),
    (
        "raise a recommendation's importance",
        "owner",
        "update public.recommendations set importance = 5 where id = {recommendation}",
    ),
    (
        "rewrite a recommendation",
        "owner",
        "update public.recommendations set title = 'Buy a boat' where id = {recommendation}",
    ),
    (
        "create a recommendation",
        "owner",
        "insert into public.recommendations (user_id, title) values ({owner}, 'Sleep more')",
    ),
    ("delete a recommendation", "owner", "delete from public.recommendations where id = {recommendation}"),
    ("rewrite their AI memory", "owner", "update public.user_summaries set summary = '' where user_id = {owner}"),
    (
        "plant a fact in their AI memory",
        "owner",
        "update public.user_summaries set key_facts = '[]' where user_id = {owner}",
    ),
    ("delete their AI memory", "owner", "delete from public.user_summaries where user_id = {owner}"),
    ("create a second profile", "owner", "insert into public.profiles (id) values ({owner})"),
    ("change their profile's id", "owner", "update public.profiles set id = {other} where id = {owner}"),
    ("backdate their profile", "owner", "update public.profiles set created_at = now() where id = {owner}"),
    (
        "choose a category for another user",
        "other",
        "insert into public.user_categories (user_id, category_id) values ({owner}, {category2})",
    ),
    ("edit a coach", "owner", "update public.coaches set intro = 'Hacked' where id = {coach}"),
    ("edit a category", "owner", "update public.categories set checkin_questions = '[]' where id = {category}"),
    ("read prompts", "owner", "select * from internal.prompt_versions"),
    ("read guidelines", "owner", "select * from internal.category_guidelines"),
    ("read settings", "owner", "select * from internal.settings"),
    ("read the jobs", "owner", "select * from internal.jobs"),
    ("resolve a prompt", "owner", "select internal.resolve_prompt('chat_reply', {coach})"),
    ("fetch guidelines", "owner", "select internal.category_guidelines({category})"),
    ("fetch settings", "owner", "select internal.setting('model.default')"),
    ("read the job kinds", "owner", "select * from internal.job_kinds"),
    ("read the tools", "owner", "select * from internal.tools"),
    ("store a reply step", "owner", "select public.record_reply_step_v1(1, 'w', '{{}}')"),
    ("run tool calls", "owner", "select public.run_tool_calls_v1(1, 'w', 1)"),
    ("store and run a reply step", "owner", "select public.run_reply_step_v1(1, 'w', '{{\"step\": 1}}')"),
    ("claim jobs", "owner", "select public.claim_jobs_v4('w', array['chat_reply'])"),
    (
        "record model calls",
        "owner",
        "select public.record_spent_calls_v1(1, jsonb_build_array(jsonb_build_object('call_id', {owner})))",
    ),
    ("write a tool call", "owner", "update public.tool_calls set is_error = true where id = {tool_call}"),
]

# (what, who, statement): statements that run but must change or see nothing.
INVISIBLE: list[tuple[str, str, str]] = [
    ("read another user's profile", "other", "select 1 from public.profiles where id = {owner}"),
    ("read another user's messages", "other", "select 1 from public.messages where conversation_id = {conversation}"),
    ("read another user's AI memory", "other", "select 1 from public.user_summaries where user_id = {owner}"),
    ("delete a completed check-in", "owner", "delete from public.checkins where id = {completed_checkin}"),
    ("archive another user's conversation", "other", "update public.conversations set archived_at = now()"),
    ("dismiss another user's recommendation", "other", "update public.recommendations set status = 'dismissed'"),
    ("read another user's tool calls", "other", "select 1 from public.tool_calls where user_id = {owner}"),
    ("read another user's goals", "other", "select 1 from public.goals where user_id = {owner}"),
    ("read another user's plans", "other", "select 1 from public.daily_plans where user_id = {owner}"),
    ("move another user's plan item", "other", "update public.plan_items set position = 0 where id = {plan_item}"),
]


def _actor(who: str, world: World) -> Actor:
    return user(world.owner if who == "owner" else world.other)


def _render(sql: str, world: World) -> str:
    return sql.format(**{name: f"'{value}'" for name, value in world.ids().items()})


@pytest.mark.parametrize(("what", "who", "sql"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_user_cannot(world: World, what: str, who: str, sql: str) -> None:
    async with acting(world.dsn, _actor(who, world)) as conn:
        with pytest.raises(DENIED):
            await conn.execute(_render(sql, world))


RETIRED: list[tuple[str, str]] = [
    (
        "start a conversation with an inactive coach",
        "insert into public.conversations (coach_id) values ({inactive_coach})",
    ),
    (
        "start a conversation in an inactive category",
        "insert into public.conversations (coach_id, category_id) values ({coach}, {spare_category})",
    ),
    (
        "move a conversation to an inactive category",
        "update public.conversations set category_id = {spare_category} where id = {conversation}",
    ),
    (
        "pick an inactive coach for their profile",
        "update public.profiles set coach_id = {inactive_coach} where id = {owner}",
    ),
]


@pytest.mark.parametrize(("what", "sql"), RETIRED, ids=[r[0] for r in RETIRED])
async def test_retired_catalogue_entries_are_refused_by_id(world: World, what: str, sql: str) -> None:
    """RLS hides them from lists; an id sent anyway is refused with a check violation naming the column."""
    async with acting(world.dsn, _actor("owner", world)) as conn:
        with pytest.raises(asyncpg.CheckViolationError, match=r"^(coach_id|category_id): .* is retired"):
            await conn.execute(_render(sql, world))


@pytest.mark.parametrize(("what", "who", "sql"), INVISIBLE, ids=[r[0] for r in INVISIBLE])
async def test_user_cannot_reach(world: World, what: str, who: str, sql: str) -> None:
    async with acting(world.dsn, _actor(who, world)) as conn:
        rendered = _render(sql, world)
        if rendered.startswith("select"):
            assert await conn.fetch(rendered) == []
        else:
            assert affected(await conn.execute(rendered)) == 0


async def test_a_user_writes_a_message_as_a_frontend_does(world: World) -> None:
    """supabase-js sends only conversation_id and content: user_id and role default to the caller's."""
    async with acting(world.dsn, user(world.owner)) as conn:
        row = await conn.fetchrow(
            "insert into public.messages (conversation_id, content) values ($1, 'Slept badly again.') "
            "returning user_id::text, role::text, status::text, completed_at is not null as completed",
            world.conversation,
        )
        assert dict(row) == {"user_id": world.owner, "role": "user", "status": "complete", "completed": True}
        last = await conn.fetchval("select last_message_at from public.conversations where id = $1", world.conversation)
        assert last is not None


async def test_a_user_starts_a_conversation_and_checks_in(world: World) -> None:
    async with acting(world.dsn, user(world.owner)) as conn:
        conversation = await conn.fetchval(
            "insert into public.conversations (coach_id, category_id) values ($1, $2) returning user_id::text",
            world.coach,
            world.category,
        )
        assert conversation == world.owner
        checkin = await conn.fetchrow(
            "insert into public.checkins (category_id, level, answers, note, status) "
            """values ($1, 7, '{"tension": 2, "helped": ["Time outside"]}', 'Better today', 'completed') """
            "returning status::text, completed_at is not null as stamped",
            world.category,
        )
        assert dict(checkin) == {"status": "completed", "stamped": True}


async def test_a_user_accepts_a_recommendation_and_edits_their_profile(world: World) -> None:
    async with acting(world.dsn, user(world.owner)) as conn:
        assert affected(
            await conn.execute("update public.recommendations set status = 'done' where id = $1", world.recommendation)
        )
        assert affected(
            await conn.execute(
                "update public.profiles set timezone = 'Europe/Berlin', locale = 'de-CH', "
                """preferences = '{"reply_length": "short"}' where id = $1""",
                world.owner,
            )
        )
