"""The journey moves only through the journey coach's tool calls (and workers): a caregiver's conversation
with Lior about the child moves it, every change is a journey event that reaches the other members over
Realtime, and no client can write it; a viewer's coach is refused by the same membership helper."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError

from tests.children.conftest import Family, Member, watch
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess

SCRIPT = (
    '[[call:update_journey_stage {"stage": "consultation", "reason": "The interview is done"}]] '
    '[[call:add_context_card {"kind": "next_step", "title": "מה הלאה", "body": "נדבר על מה שמדאיג אתכם"}]] '
    '[[then:trigger_deep_view {"view": "documents", "reason": "Time to gather letters"}]] '
    '[[then:update_progress {"area": "interview", "value": 40}]] '
    '[[then:add_milestone {"key": "interview_completed", "title": "Interview completed"}]]'
)


async def lior(admin: asyncpg.Connection) -> str:
    return str(await admin.fetchval("select id from public.coaches where slug = 'lior'"))


async def talk(member: Member, coach_id: str, child_id: str, text: str) -> tuple[str, dict[str, Any]]:
    """A conversation with the journey coach about the child; returns it and the finished reply."""
    conversation = (
        await member.client.table("conversations").insert({"coach_id": coach_id, "child_id": child_id}).execute()
    ).data[0]["id"]
    await member.client.table("messages").insert({"conversation_id": conversation, "content": text}).execute()

    async def replied() -> bool:
        rows = (
            await member.client.table("messages")
            .select("status")
            .eq("conversation_id", conversation)
            .eq("role", "assistant")
            .execute()
        ).data
        return bool(rows) and rows[0]["status"] in ("complete", "failed")

    await wait_until(replied, 40, "the coach's reply")
    reply = (
        await member.client.table("messages")
        .select("*")
        .eq("conversation_id", conversation)
        .eq("role", "assistant")
        .single()
        .execute()
    ).data
    return str(conversation), dict(reply)


def months_since(born: str, zone: str) -> int:
    today = datetime.now(ZoneInfo(zone)).date()
    birth = datetime.strptime(born, "%Y-%m-%d").date()
    return (today.year - birth.year) * 12 + today.month - birth.month - (1 if today.day < birth.day else 0)


async def test_the_coach_moves_the_journey_by_tool_calls_and_the_family_follows_over_realtime(
    family: Family, admin: asyncpg.Connection, start_worker: Callable[..., WorkerProcess], fake_llm: str
) -> None:
    start_worker()
    owner_feed = await watch(family.owner, "journey_events", family.child_id)
    conversation, reply = await talk(family.caregiver, await lior(admin), family.child_id, f"סיימנו את השיחה {SCRIPT}")
    assert reply["status"] == "complete", reply

    journey = (await family.viewer.client.table("journeys").select("*").eq("child_id", family.child_id).execute()).data
    [state] = journey
    assert state["stage"] == "consultation"
    assert state["progress"] == {"interview": 40, "videos": 0, "documents": 0, "analysis": 0}
    assert [m["key"] for m in state["milestones"]] == ["interview_completed"]
    assert state["deep_view"]["view"] == "documents"
    assert [(c["kind"], c["title"]) for c in state["context_cards"]] == [("next_step", "מה הלאה")]

    # Each change is an event, made by a tool call of this conversation, and the owner saw each arrive.
    events = [await owner_feed.next() for _ in range(5)]
    assert [e["kind"] for e in events] == [
        "stage_changed",
        "context_card_added",
        "deep_view_triggered",
        "progress_updated",
        "milestone_added",
    ]
    calls = (
        await family.caregiver.client.table("tool_calls")
        .select("id, name, status")
        .eq("conversation_id", conversation)
        .execute()
    )
    assert {c["status"] for c in calls.data} == {"succeeded"}
    assert {e["tool_call_id"] for e in events} == {c["id"] for c in calls.data}
    assert {e["source"] for e in events} == {"coach"}
    assert events[0]["data"] == {"from": "interview", "to": "consultation", "reason": "The interview is done"}

    # The model saw the child (age in months computed) and was offered the journey tools.
    async with httpx.AsyncClient() as http:
        logged = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    body = next(
        e["body"] for e in logged if e["kind"] == "anthropic" and "סיימנו" in json.dumps(e["body"], ensure_ascii=False)
    )  # the reply's request (the message's safety check is another)
    system = " ".join(block["text"] for block in body["system"])
    assert '"name": "Noa"' in system and f'"age_months": {months_since("2024-06-15", "Asia/Jerusalem")}' in system
    assert {t["name"] for t in body["tools"]} == {
        "update_journey_stage",
        "update_progress",
        "add_context_card",
        "trigger_deep_view",
        "add_milestone",
        "search_knowledge",  # the child's journal and documents (20261209000000_child_knowledge)
    }


async def test_no_client_writes_the_journey_and_a_viewers_coach_is_refused(
    family: Family, admin: asyncpg.Connection, start_worker: Callable[..., WorkerProcess]
) -> None:
    journey_id = (
        await family.owner.client.table("journeys").select("id").eq("child_id", family.child_id).single().execute()
    ).data["id"]
    for member in (family.owner, family.caregiver):
        with pytest.raises(APIError) as refused:
            await member.client.table("journeys").update({"stage": "sharing"}).eq("id", journey_id).execute()
        assert refused.value.code == "42501"
        with pytest.raises(APIError):
            await (
                member.client.table("journey_events")
                .insert(
                    {"journey_id": journey_id, "child_id": family.child_id, "kind": "stage_changed", "source": "coach"}
                )
                .execute()
            )
    with pytest.raises(APIError) as stranger:
        await (
            family.stranger.client.table("conversations")
            .insert({"coach_id": await lior(admin), "child_id": family.child_id})
            .execute()
        )
    assert stranger.value.code == "42501"

    start_worker()
    conversation, reply = await talk(
        family.viewer,
        await lior(admin),
        family.child_id,
        'Can we move on? [[call:update_journey_stage {"stage": "sharing"}]]',
    )
    calls = (
        await family.viewer.client.table("tool_calls").select("*").eq("conversation_id", conversation).execute()
    ).data
    assert [(c["name"], c["is_error"]) for c in calls] == [("update_journey_stage", True)]
    assert "not an owner or caregiver" in calls[0]["result"]["error"]
    stage = await admin.fetchval("select stage::text from public.journeys where id = $1", journey_id)
    assert stage == "interview" and reply["status"] == "complete"


async def test_the_state_rules_hold_in_the_database(family: Family, admin: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="must be at most 100"):
        await admin.fetchval(
            "select internal.change_journey($1, $2::jsonb, 'worker')",
            family.child_id,
            json.dumps({"kind": "progress", "area": "videos", "value": 140}),
        )
    with pytest.raises(asyncpg.CheckViolationError, match="journeys_state_is_valid"):
        await admin.execute(
            "update public.journeys set progress = progress - 'videos' where child_id = $1", family.child_id
        )
    first = await admin.fetchval(
        "select internal.change_journey($1, $2::jsonb, 'worker')",
        family.child_id,
        json.dumps({"kind": "milestone", "key": "first_video", "title": "First video"}),
    )
    again = await admin.fetchval(
        "select internal.change_journey($1, $2::jsonb, 'worker')",
        family.child_id,
        json.dumps({"kind": "milestone", "key": "first_video", "title": "First video again"}),
    )
    assert json.loads(first)["event_id"] is not None and json.loads(again)["event_id"] is None


async def test_a_check_in_about_a_child_brings_the_child_to_its_analysis(
    family: Family, admin: asyncpg.Connection
) -> None:
    stress = str(await admin.fetchval("select id from public.categories where slug = 'stress'"))
    row = {"category_id": stress, "level": 4, "child_id": family.child_id}
    checkin = (await family.caregiver.client.table("checkins").insert(row).execute()).data[0]["id"]
    for outsider in (family.viewer, family.stranger):  # a check-in about a child is for those who care for it
        with pytest.raises(APIError) as refused:
            await outsider.client.table("checkins").insert(row).execute()
        assert refused.value.code == "42501"
    job = json.dumps({"id": 0, "kind": "checkin_analysis", "payload": {"checkin_id": checkin}})
    context = json.loads(
        await admin.fetchval(
            "select internal.checkin_analysis_context(jsonb_populate_record(null::internal.jobs, $1::jsonb))", job
        )
    )
    assert context["child"]["name"] == "Noa" and context["child"]["journey"]["stage"] == "interview"
    assert "{{child}}" in context["prompt"]["template"]
