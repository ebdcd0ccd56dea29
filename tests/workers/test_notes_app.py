"""The notes app end to end: the second-brain coach (Iris) cites the notes it used and acts through tools,
tasks are extracted from notes once per block (across edits, never again once deleted), and a photo of
handwritten notes becomes a note. Official clients as the user, real workers, the fake model replaying
recorded responses (tests/llm/recordings/brain_*.http) and the offline embedding model.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory, all_complete, replies
from tests.workers.test_knowledge import blocks, indexed, save_note

# A 1x1 PNG: the bytes the model must receive as image input.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
async def make_brain_user(make_user: UserFactory, admin: asyncpg.Connection) -> Callable[[], Any]:
    """A signed-up user who talks to Iris, the second-brain coach."""
    iris = str(await admin.fetchval("select id from public.coaches where slug = 'iris'"))

    async def make() -> User:
        user = await make_user()
        user.coach_id = iris
        return user

    return make


async def reply_to(user: User, text: str) -> dict[str, Any]:
    conversation = await user.conversation()
    await user.send(conversation, text)
    await wait_until(lambda: all_complete(user, conversation, 1), 40, "the reply")
    [reply] = await replies(user, conversation)
    assert reply["status"] == "complete", reply
    return reply


async def requests_with(fake_llm: str, needle: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        entries = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    # (not the message's safety assessment, which sees the same text)
    return [e for e in entries if e.get("kind") != "classifier" and needle in json.dumps(e.get("body"))]


async def test_a_reply_cites_the_notes_it_used(
    start_worker: Any, make_brain_user: Callable[[], Any], make_user: UserFactory, admin: asyncpg.Connection,
    fake_llm: str,
) -> None:  # fmt: skip
    start_worker()
    ana, ben = await make_brain_user(), await make_user()
    groceries = await save_note(ana, "Groceries", ("g1", "Oat milk"), ("g2", "Spinach for the soup"))
    others = await save_note(ben, "Groceries", ("g1", "Oat milk and spinach, ten kilos"))
    for note in (groceries, others):
        await wait_until(lambda n=note: indexed(admin, n), 30, "the notes' chunks")  # type: ignore[misc]

    reply = await reply_to(ana, "What is on my shopping list, oat milk? [[replay:brain_cites_note]]")

    assert reply["content"] == "Your list says oat milk and spinach [1]. Nothing else is noted [7]."
    [citation] = reply["citations"]  # [7] names no source: dropped
    assert (citation["ref"], citation["source"], citation["source_id"]) == (1, "notes", groceries)
    assert "Spinach" in citation["excerpt"] and citation["title"] == "Groceries"
    chunk = await admin.fetchval("select source_id::text from public.knowledge_chunks where id = $1",
                                 uuid.UUID(citation["chunk_id"]))  # fmt: skip
    assert chunk == groceries
    # The model was shown Ana's note as source [1], never Ben's.
    [request] = await requests_with(fake_llm, "brain_cites_note")
    system = json.dumps(request["body"]["system"])
    assert "[1] Groceries (notes): Oat milk" in system and "ten kilos" not in system
    sources = await admin.fetch("select source_id::text from internal.reply_sources where message_id = $1",
                                uuid.UUID(reply["id"]))  # fmt: skip
    assert {r["source_id"] for r in sources} == {groceries}
    # The query's embedding was an embedding call of the reply, before its model call.
    kinds = await admin.fetch(
        "select model from internal.ai_usage where subject_id = $1 order by id", uuid.UUID(reply["id"])
    )
    assert [r["model"] for r in kinds] == ["wordllama-l2-supercat-256", "claude-sonnet-4-5"]  # the recording's


async def test_the_search_tool_searches_as_the_user_and_numbers_its_results(
    start_worker: Any, make_brain_user: Callable[[], Any], make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    start_worker()
    ana, ben = await make_brain_user(), await make_user()
    dentist = await save_note(ana, "Health", ("h1", "Dentist moved to Thursday at 9, bring the x-rays."))
    await save_note(ana, "Books", ("b1", "Read the novel about the lighthouse keeper."))
    theirs = await save_note(ben, "Health", ("h1", "Dentist on Thursday too, x-rays again."))
    for note in (dentist, theirs):
        await wait_until(lambda n=note: indexed(admin, n), 30, "the notes' chunks")  # type: ignore[misc]

    reply = await reply_to(ana, 'Anything about books? [[call:search_knowledge {"query": "dentist x-rays"}]]')

    [call] = (await ana.client.table("tool_calls").select("*").eq("message_id", reply["id"]).execute()).data
    assert call["status"] == "succeeded", call
    results = call["result"]["results"]
    assert results and results[0]["source_id"] == dentist
    assert all(r["source_id"] != theirs for r in results)
    rows = await admin.fetch("select ref, via, source_id::text from internal.reply_sources where message_id = $1 "
                             "order by ref", uuid.UUID(reply["id"]))  # fmt: skip
    retrieved = [r for r in rows if r["via"] == "retrieval"]
    assert [r["ref"] for r in rows] == list(range(1, len(rows) + 1))
    assert {r["ref"] for r in results} <= {r["ref"] for r in rows}
    assert all(r["ref"] > len(retrieved) for r in results if r["source_id"] not in {x["source_id"] for x in retrieved})
    assert (
        await admin.fetchval("select count(*) from internal.query_embeddings where query_hash = md5('dentist x-rays')")
        == 1
    )  # the worker embedded the query for the tool, which searched by meaning as well


async def test_the_coach_creates_tasks_and_notes_through_tools(
    start_worker: Any, make_brain_user: Callable[[], Any], admin: asyncpg.Connection
) -> None:
    start_worker()
    ana = await make_brain_user()
    await reply_to(
        ana,
        'Remember to renew my passport [[call:create_task {"title": "Renew passport", "due_date": "2026-12-20"}]] '
        '[[call:create_note {"title": "Packing", "text": "# Packing\\n- [ ] passport\\n- charger"}]]',
    )
    [task] = (await ana.client.table("tasks").select("*").execute()).data
    assert (task["title"], task["due_date"], task["source"]) == ("Renew passport", "2026-12-20", "chat")
    [note] = (await ana.client.table("notes").select("*").eq("title", "Packing").execute()).data
    assert [b["type"] for b in note["content"]] == ["heading", "checkListItem", "bulletListItem"]
    assert note["content"][1]["props"] == {"checked": False}
    await wait_until(lambda: indexed(admin, note["id"], "passport"), 30, "the new note's chunks")


async def extraction_done(admin: asyncpg.Connection, note: str) -> bool:
    rows = await admin.fetch(
        "select status from internal.jobs where kind = 'task_extraction' and payload ->> 'note_id' = $1", note
    )
    return bool(rows) and all(r["status"] == "succeeded" for r in rows)


async def note_tasks(user: User, note: str) -> list[dict[str, Any]]:
    rows = await user.client.table("tasks").select("*").eq("source_note_id", note).order("title").execute()
    return list(rows.data)


async def test_task_extraction_is_idempotent_across_edits_and_respects_deletions(
    start_worker: Any, make_brain_user: Callable[[], Any], admin: asyncpg.Connection
) -> None:
    start_worker()
    ana = await make_brain_user()
    lines = [("blk-head", "Errands"), ("blk-milk", "buy oat milk"),
             ("blk-dentist", "call the dentist, move it to Thursday (important)"),
             ("blk-idea", "idea: a podcast about bees [[replay:brain_extract_tasks]]")]  # fmt: skip
    note = await save_note(ana, "Errands", *lines)
    await wait_until(lambda: extraction_done(admin, note), 30, "the extraction")
    tasks = await note_tasks(ana, note)
    assert [(t["title"], t["source_block_id"], t["source"], t["priority"]) for t in tasks] == [
        ("Buy oat milk", "blk-milk", "note", "medium"),
        ("Call the dentist", "blk-dentist", "note", "high"),
    ]  # the block the model invented is dropped

    async def edit(*changed: tuple[str, str]) -> None:
        await ana.client.table("notes").update({"content": blocks(*changed)}).eq("id", note).execute()
        await wait_until(lambda: extraction_done(admin, note), 30, "the extraction of the edit")

    # An edit: a new block, and the model names the old blocks again: no duplicate.
    lines.append(("blk-new", "water the plants [[replay:brain_extract_tasks]]"))
    await edit(*lines)
    assert [t["id"] for t in await note_tasks(ana, note)] == [t["id"] for t in tasks]

    # The user deletes a task; its block is edited and the model finds it again: it stays deleted.
    await ana.client.table("tasks").delete().eq("id", tasks[0]["id"]).execute()
    lines[1] = ("blk-milk", "buy oat milk, two cartons")
    lines.append(("blk-more", "also the bakery [[replay:brain_extract_tasks]]"))
    await edit(*lines)
    assert [t["title"] for t in await note_tasks(ana, note)] == ["Call the dentist"]

    # Every version was extracted once; a version with nothing new asked the model nothing.
    versions = await admin.fetch("select payload ->> 'version' as v from internal.jobs "
                                 "where kind = 'task_extraction' and payload ->> 'note_id' = $1", note)  # fmt: skip
    assert sorted(int(r["v"]) for r in versions) == [1, 2, 3]
    await ana.client.table("notes").update({"pinned": True}).eq("id", note).execute()  # not a new version
    assert await admin.fetchval("select version from public.notes where id = $1", uuid.UUID(note)) == 3


async def test_a_photo_of_handwritten_notes_becomes_a_note(
    start_worker: Any, make_brain_user: Callable[[], Any], admin: asyncpg.Connection, fake_llm: str
) -> None:
    start_worker()
    ana = await make_brain_user()
    path = f"{ana.user_id}/market-{uuid.uuid4().hex[:6]}.png"
    await ana.client.storage.from_("note-images").upload(path, PNG, {"content-type": "image/png"})
    scan = (
        await ana.client.table("note_scans").insert({"image_path": path, "hint": "market [[replay:brain_transcribe]]"})
        .execute()
    ).data[0]  # fmt: skip

    async def done() -> bool:
        row = (await ana.client.table("note_scans").select("status").eq("id", scan["id"]).execute()).data[0]
        return bool(row["status"] != "pending")

    await wait_until(done, 30, "the transcription")
    row = (await ana.client.table("note_scans").select("*").eq("id", scan["id"]).execute()).data[0]
    assert row["status"] == "done", row
    note = (await ana.client.table("notes").select("*").eq("id", row["note_id"]).execute()).data[0]
    assert note["title"] == "Market list" and note["metadata"]["scan_id"] == scan["id"]
    assert [(b["type"], b["content"][0]["text"]) for b in note["content"]] == [
        ("heading", "Market list"), ("checkListItem", "oat milk"), ("checkListItem", "spinach"),
        ("paragraph", "Ask about the [illegible] cheese"),
    ]  # fmt: skip
    assert [b["props"].get("checked") for b in note["content"][1:3]] == [False, True]
    # The photo went to the model as image input.
    [request] = await requests_with(fake_llm, "brain_transcribe")
    [image] = [b for b in request["body"]["messages"][0]["content"] if b["type"] == "image"]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    await wait_until(lambda: indexed(admin, note["id"], "oat milk"), 30, "the new note's chunks")


async def test_a_scan_of_a_missing_photo_fails_with_the_reason(
    start_worker: Any, make_brain_user: Callable[[], Any]
) -> None:
    start_worker()
    ana = await make_brain_user()
    scan = (await ana.client.table("note_scans").insert({"image_path": f"{ana.user_id}/nothing.png"}).execute()).data[0]

    async def failed() -> bool:
        row = (await ana.client.table("note_scans").select("*").eq("id", scan["id"]).execute()).data[0]
        return bool(row["status"] == "failed" and "nothing.png" in (row["error"] or ""))

    await wait_until(failed, 30, "the scan to fail")
