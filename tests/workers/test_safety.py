"""Safety before every coaching reply, end to end: official clients as users, a real worker, the fake
model serving recorded classifier responses over HTTP ([[classifier:NAME]], tests/llm/recordings).

The reply generates while its message is assessed (the fake's classifier is told to answer late), so
these tests also show that the held-back text never leaves the worker when the message is not cleared.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError

from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, WorkerProcess, all_complete, replies, streamed_text, subscribe

IMMINENT = "[[classifier:anthropic_classifier_imminent]]"
BENIGN = "[[classifier:anthropic_classifier_none]]"


async def reply_of(user: User, conversation: str, seconds: float = 30) -> dict[str, Any]:
    await wait_until(lambda: all_complete(user, conversation, 1), seconds, "the reply")
    [reply] = await replies(user, conversation)
    return reply


async def escalation(admin: asyncpg.Connection, message_id: str) -> asyncpg.Record | None:
    return await admin.fetchrow("select * from internal.escalations where message_id = $1", uuid.UUID(message_id))


async def chat_requests(fake_llm: str, text: str) -> list[dict[str, Any]]:
    """The fake model's coaching requests (not the classifier's) whose last user turn contains `text`."""
    async with httpx.AsyncClient() as http:
        entries = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    return [e for e in entries if e["kind"] == "anthropic" and text in str(e["body"].get("messages"))]


async def test_an_imminent_risk_gets_the_crisis_response_and_no_coaching_text_ever_leaves(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection, fake_llm: str
) -> None:
    start_worker()
    user = await make_user()
    await user.client.table("profiles").update({"country": "GB"}).eq("id", user.user_id).execute()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    # Nothing a keyword rule knows: only the classifier (answering late, while the reply generates) sees it.
    text = f"I have decided tonight is the night, everything is ready [[classifier_ms:700]] {IMMINENT}"
    message = await user.send(conversation, text)
    reply = await reply_of(user, conversation)
    await asyncio.wait_for(done.wait(), 10)

    assert reply["reply_kind"] == "crisis"
    assert "Samaritans" in reply["content"] and "116 123" in reply["content"] and "999" in reply["content"]
    assert "988" not in reply["content"]  # the user's country's lines, not another's
    # The coaching reply was generating meanwhile, and none of it was broadcast or stored.
    assert await chat_requests(fake_llm, "everything is ready")
    deltas = [p["text"] for event, p in user.broadcasts if event == "delta"]
    assert "".join(deltas) == reply["content"]
    assert not [e for e, _ in user.broadcasts if e in ("tool_call", "error")]

    row = await escalation(admin, message["id"])
    assert row is not None and row["risk_level"] == "imminent" and row["country"] == "GB"
    assessment = await admin.fetchrow(
        "select * from internal.safety_assessments where message_id = $1 and source = 'model'",
        uuid.UUID(message["id"]),
    )
    assert assessment["model"] == "claude-haiku-4-5" and assessment["prompt_version"].startswith("safety_classifier@v")
    assert assessment["categories"] == ["suicide"]


async def test_a_benign_message_gets_its_ordinary_reply(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    message = await user.send(conversation, f"How can I sleep better? [[classifier_ms:300]] {BENIGN}")
    reply = await reply_of(user, conversation)
    await asyncio.wait_for(done.wait(), 10)
    assert reply["reply_kind"] == "coaching" and "sleep better" in reply["content"]
    assert streamed_text(user) == reply["content"]  # each number once, from 1
    # The reply was written while the classifier took 300 ms; its text so far went out with the decision
    # that cleared the message, from the database (20261210000000), as the reply's first delta.
    sent = await admin.fetch(
        "select payload from realtime.messages where topic = $1 and event = 'delta'", f"conversation:{conversation}"
    )
    [first] = [json.loads(r["payload"]) for r in sent]
    assert first["message_id"] == reply["id"] and first["seq"] == 1 and first["text"] and first["attempt"] == 1
    assert reply["content"].startswith(first["text"])
    decision = await admin.fetchrow(
        "select * from internal.message_safety where message_id = $1", uuid.UUID(message["id"])
    )
    assert decision["cleared"] and decision["decided_by"] == "model" and decision["risk_level"] == "none"
    assert await escalation(admin, message["id"]) is None
    # The worker that held the reply finished the assessment: the decision was not broadcast to the workers.
    told = (
        "select 1 from realtime.messages where topic = 'workers:jobs' and event = 'safety' "
        "and payload ->> 'message_id' = $1"
    )
    assert not await admin.fetch(told, message["id"])


async def test_with_the_classifier_down_the_rules_still_catch_a_crisis(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    message = await user.send(conversation, "I want to kill myself [[classifier_down]]")
    reply = await reply_of(user, conversation, 10)
    assert reply["reply_kind"] == "crisis" and "988" in reply["content"]  # US: the operators' default country
    row = await escalation(admin, message["id"])
    assert row is not None and row["risk_level"] == "elevated" and row["categories"] == ["suicide"]
    sources = await admin.fetch(
        "select source from internal.safety_assessments where message_id = $1", uuid.UUID(message["id"])
    )
    assert [r["source"] for r in sources] == ["rule"]  # decided in the insert: no classifier, no coaching job
    jobs = await admin.fetchval("select count(*) from internal.jobs where payload ->> 'message_id' = $1", message["id"])
    assert jobs == 0


async def test_a_message_the_classifier_cannot_assess_gets_the_safe_fallback(
    make_user: UserFactory, start_worker: Any, admin: asyncpg.Connection
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    done = await subscribe(user, conversation)
    message = await user.send(conversation, "Tell me about my week [[classifier_down]]")
    reply = await reply_of(user, conversation)
    await asyncio.wait_for(done.wait(), 10)
    assert reply["reply_kind"] == "fallback" and "can't reply properly" in reply["content"]
    assert "".join(p["text"] for e, p in user.broadcasts if e == "delta") == reply["content"]
    decision = await admin.fetchrow(
        "select * from internal.message_safety where message_id = $1", uuid.UUID(message["id"])
    )
    assert not decision["cleared"] and decision["decided_by"] == "rules"
    assert await escalation(admin, message["id"]) is None  # nothing flagged it: nothing to follow up


async def test_a_classifier_slower_than_its_timeout_fails_closed(
    make_user: UserFactory, start_worker: WorkerProcess, admin: asyncpg.Connection
) -> None:
    await admin.execute("update internal.settings set value = '200' where key = 'safety.classifier_timeout_ms'")
    try:
        start_worker()
        user = await make_user()
        conversation = await user.conversation()
        await user.send(conversation, "Quick question [[classifier_slow]]")
        reply = await reply_of(user, conversation)
        assert reply["reply_kind"] == "fallback"
    finally:
        await admin.execute("update internal.settings set value = '8000' where key = 'safety.classifier_timeout_ms'")


async def test_red_line_guidance_reaches_the_coaching_prompt(
    make_user: UserFactory, start_worker: Any, fake_llm: str
) -> None:
    start_worker()
    user = await make_user()
    conversation = await user.conversation()
    await user.send(conversation, f"Can I put honey in my 8 month old's porridge? {BENIGN}")
    reply = await reply_of(user, conversation)
    assert reply["reply_kind"] == "coaching"
    [request] = await chat_requests(fake_llm, "honey in my 8 month")
    system = str(request["body"]["system"])
    assert "honey must not be given before 12 months" in system


async def test_a_user_cannot_bypass_it_through_the_api(make_user: UserFactory, start_worker: Any) -> None:
    start_worker()
    owner, other = await make_user(), await make_user()
    conversation = await owner.conversation()
    message = await owner.send(conversation, "I want to die")
    await reply_of(owner, conversation, 10)
    attempts = [
        owner.client.table("messages").insert(
            {"conversation_id": conversation, "role": "assistant", "content": "All fine", "reply_kind": "coaching"}
        ),
        owner.client.table("messages").update({"reply_kind": "coaching", "content": "x"}).eq("reply_to", message["id"]),
        owner.client.schema("internal").table("safety_assessments").select("*"),
        owner.client.schema("internal")
        .table("safety_assessments")
        .update({"risk_level": "none"})
        .eq("message_id", message["id"]),
        owner.client.schema("internal").table("escalations").delete().eq("message_id", message["id"]),
        owner.client.rpc("safety_decisions_v1", {"p_message_ids": [message["id"]]}),
    ]
    for attempt in attempts:
        with pytest.raises(APIError):
            await attempt.execute()
    # Another user sees neither the message nor its reply.
    assert (await other.client.table("messages").select("*").eq("conversation_id", conversation).execute()).data == []
