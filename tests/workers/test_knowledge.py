"""Knowledge end to end: notes saved through supabase-py are chunked and embedded by a worker (the offline
model), searched under RLS through `rpc("search_knowledge")`, re-indexed when edited, removed when deleted,
re-embedded with a new model in the background; a reply of the second-brain coach cites the notes it used.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared.embeddings import Embedders, EmbeddingModel
from tests.waiting import wait_until
from tests.workers.conftest import User, UserFactory

OFFLINE = EmbeddingModel(name="wordllama-l2-supercat-256", provider="offline", dimensions=256)
embedding_jobs = (
    "select count(*) from internal.jobs where kind = 'knowledge_embedding' and payload ->> 'source_id' = $1"
)


@pytest.fixture
async def embedders() -> AsyncIterator[Embedders]:
    found = Embedders.from_settings(None, None)
    yield found
    await found.aclose()


def blocks(*lines: tuple[str, str]) -> list[dict[str, Any]]:
    """BlockNote blocks, as the editor saves them: (block id, text) paragraphs."""
    return [
        {"id": block_id, "type": "paragraph", "props": {}, "content": [{"type": "text", "text": text, "styles": {}}],
         "children": []}
        for block_id, text in lines
    ]  # fmt: skip


async def save_note(user: User, title: str, *lines: tuple[str, str]) -> str:
    response = await user.client.table("notes").insert({"title": title, "content": blocks(*lines)}).execute()
    return str(response.data[0]["id"])


async def indexed(admin: asyncpg.Connection, source_id: str, content: str | None = None) -> bool:
    """Whether the row's chunks are written (and, with `content`, hold that text)."""
    rows = await admin.fetch("select content from public.knowledge_chunks where source_id = $1", uuid.UUID(source_id))
    return bool(rows) and (content is None or any(content in r["content"] for r in rows))


async def search(user: User, embedders: Embedders, query: str, **options: Any) -> list[dict[str, Any]]:
    vector = (await embedders.embed(OFFLINE, [query])).vectors[0]
    params = {"p_query": query, "p_query_embedding": vector, "p_match_count": 20, **options}
    return list((await user.client.rpc("search_knowledge", params).execute()).data)


async def test_own_notes_and_shared_guidelines_are_found_never_another_users(
    start_worker: Any, make_user: UserFactory, admin: asyncpg.Connection, embedders: Embedders
) -> None:
    start_worker()
    ana, ben = await make_user(), await make_user()
    mine = await save_note(ana, "Sleep routine", ("b1", "Lights out at 22:30, no screens in bed, tea at nine."))
    theirs = await save_note(ben, "Sleep diary", ("b1", "Slept badly: screens in bed until midnight again."))
    for note in (mine, theirs):
        await wait_until(lambda n=note: indexed(admin, n), 30, "the notes' chunks")  # type: ignore[misc]
    guideline = await admin.fetchval(
        "select category_id from internal.category_guidelines g "
        "join public.categories c on c.id = g.category_id where c.slug = 'sleep'"
    )
    await wait_until(lambda: indexed(admin, str(guideline)), 30, "the shipped guidelines' chunks")

    chunk = await admin.fetchrow("select model, dimensions, owner_id from public.knowledge_chunks where source_id = $1",
                                 uuid.UUID(mine))  # fmt: skip
    assert (chunk["model"], chunk["dimensions"], str(chunk["owner_id"])) == (OFFLINE.name, 256, ana.user_id)

    found = await search(ana, embedders, "screens in bed and sleep")
    sources = {(r["source"], r["source_id"]) for r in found}
    assert ("notes", mine) in sources
    assert ("category_guidelines", str(guideline)) in sources
    assert all(r["source_id"] != theirs for r in found)
    assert found[0]["source_id"] == mine  # the closest in meaning and words

    # Words only (no embedding), own rows only, and straight from the table: still RLS.
    words = list((await ana.client.rpc("search_knowledge", {"p_query": "screens bed", "p_include_shared": False})
                  .execute()).data)  # fmt: skip
    assert {r["source_id"] for r in words} == {mine}
    rows = (await ana.client.table("knowledge_chunks").select("source_id").eq("source_id", theirs).execute()).data
    assert rows == []

    # The same search with every index off (sequential scan): the same rows, RLS still decides.
    async with admin.transaction():
        await admin.execute(
            "set local enable_indexscan = off; set local enable_bitmapscan = off; set local enable_indexonlyscan = off"
        )
        await admin.execute(
            "select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)",
            json.dumps({"sub": ana.user_id, "role": "authenticated"}),
        )
        vector = (await embedders.embed(OFFLINE, ["screens in bed and sleep"])).vectors[0]
        plain = await admin.fetch(
            "select source_id::text from public.search_knowledge("
            "'screens in bed and sleep', $1::text::extensions.vector, 20)",
            json.dumps(vector),
        )
    assert {r["source_id"] for r in plain} == {r["source_id"] for r in found}


async def test_an_edited_note_is_reindexed_and_a_deleted_one_leaves_nothing(
    start_worker: Any, make_user: UserFactory, admin: asyncpg.Connection, embedders: Embedders
) -> None:
    start_worker()
    ana = await make_user()
    note = await save_note(ana, "Trip", ("b1", "Pack the blue tent and two sleeping bags."))
    await wait_until(lambda: indexed(admin, note, "blue tent"), 30, "the first version's chunks")
    first = {r["id"] for r in await admin.fetch("select id from public.knowledge_chunks where source_id = $1",
                                                   uuid.UUID(note))}  # fmt: skip

    await (
        ana.client.table("notes")
        .update({"content": blocks(("b1", "Pack the red kayak and the paddles."))})
        .eq("id", note)
        .execute()
    )
    await wait_until(lambda: indexed(admin, note, "red kayak"), 30, "the edited note's chunks")
    rows = await admin.fetch("select id, content from public.knowledge_chunks where source_id = $1", uuid.UUID(note))
    assert not first & {r["id"] for r in rows}, "the old chunks are gone"
    assert all("tent" not in r["content"] for r in rows)
    found = await search(ana, embedders, "blue tent", p_include_shared=False)
    assert all("tent" not in r["content"] for r in found)

    # Saves that change nothing searchable cost no embedding: pinning queues nothing; a title saved unchanged
    # queues a job that finds the text as it was embedded and skips.
    calls_before = await admin.fetchval("select count(*) from internal.ai_usage where subject_id = $1", uuid.UUID(note))
    jobs_before = await admin.fetchval(embedding_jobs, note)
    await ana.client.table("notes").update({"pinned": True}).eq("id", note).execute()
    assert await admin.fetchval(embedding_jobs, note) == jobs_before
    await ana.client.table("notes").update({"title": "Trip"}).eq("id", note).execute()

    async def skipped() -> bool:
        row = await admin.fetchrow(
            "select status, result from internal.jobs where kind = 'knowledge_embedding' "
            "and payload ->> 'source_id' = $1 order by id desc limit 1",
            note,
        )
        return row["status"] == "succeeded" and json.loads(row["result"]).get("skipped") is True

    await wait_until(skipped, 30, "the unchanged note's job to skip")
    assert await admin.fetchval(embedding_jobs, note) == jobs_before + 1
    calls = await admin.fetchval("select count(*) from internal.ai_usage where subject_id = $1", uuid.UUID(note))
    assert calls == calls_before

    await ana.client.table("notes").delete().eq("id", note).execute()
    assert not await indexed(admin, note)  # removed with the row, in its transaction
    assert (
        await admin.fetchval("select count(*) from internal.knowledge_index where source_id = $1", uuid.UUID(note)) == 0
    )


async def test_archived_notes_leave_search_and_come_back(
    start_worker: Any, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    start_worker()
    ana = await make_user()
    note = await save_note(ana, "Ideas", ("b1", "A podcast about urban beekeeping."))
    await wait_until(lambda: indexed(admin, note), 30, "the note's chunks")
    await ana.client.table("notes").update({"archived": True}).eq("id", note).execute()

    async def gone() -> bool:
        return not await indexed(admin, note)

    await wait_until(gone, 30, "the archived note's chunks to go")
    await ana.client.table("notes").update({"archived": False}).eq("id", note).execute()
    await wait_until(lambda: indexed(admin, note), 30, "the note's chunks again")


async def test_embedding_calls_are_in_the_usage_ledger(
    start_worker: Any, make_user: UserFactory, admin: asyncpg.Connection
) -> None:
    start_worker()
    ana = await make_user()
    await (
        ana.client.table("reflections")
        .insert({"type": "gratitude", "content": "Grateful for a long walk by the sea."})
        .execute()
    )

    async def recorded() -> bool:
        return bool(await admin.fetchval(
            "select count(*) from internal.ai_usage where kind = 'knowledge_embedding' and user_id = $1",
            uuid.UUID(ana.user_id)))  # fmt: skip

    await wait_until(recorded, 30, "the embedding call in the usage ledger")
    row = await admin.fetchrow(
        "select model, prompt_version, input_tokens, output_tokens from internal.ai_usage "
        "where kind = 'knowledge_embedding' and user_id = $1",
        uuid.UUID(ana.user_id),
    )
    assert (row["model"], row["prompt_version"], row["output_tokens"]) == (OFFLINE.name, "-", 0)
    assert row["input_tokens"] > 5


async def serving(admin: asyncpg.Connection) -> str:
    value = await admin.fetchval("select value from internal.settings where key = 'knowledge.embedding_model'")
    return str(json.loads(value)["name"])


async def test_switching_the_model_reembeds_in_the_background_while_search_keeps_working(
    start_worker: Any, fake_llm: str, make_user: UserFactory, admin: asyncpg.Connection, embedders: Embedders
) -> None:
    """To an OpenAI-compatible API (the fake model's /v1/embeddings), then back to the offline model."""
    ana = await make_user()
    note = await save_note(ana, "Garden", ("b1", "Plant the tomatoes after the last frost in May."))
    worker = start_worker("embed", COACHBASE_EMBEDDINGS_BASE_URL=f"{fake_llm}/v1")
    await wait_until(lambda: indexed(admin, note), 30, "the note's chunks")
    remote = EmbeddingModel(name="fake-embed-64", provider="openai", dimensions=64)
    remote_embedders = Embedders.from_settings(f"{fake_llm}/v1", None)
    try:
        worker.stop()  # nobody builds the new model yet: search must keep serving the old one meanwhile
        await admin.execute("select internal.switch_embedding_model('fake-embed-64', 'openai', 64)")
        found = await search(ana, embedders, "tomatoes frost", p_include_shared=False)
        assert [r["source_id"] for r in found] == [note]

        start_worker("embed2", COACHBASE_EMBEDDINGS_BASE_URL=f"{fake_llm}/v1")
        await wait_until(lambda: _serves(admin, remote.name), 60, "the new model to serve")
        models = await admin.fetch("select distinct model, dimensions from public.knowledge_chunks")
        assert [(r["model"], r["dimensions"]) for r in models] == [(remote.name, 64)]
        assert await admin.fetchval(
            "select count(*) from internal.ai_usage where kind = 'knowledge_reindex' and model = $1", remote.name
        )
        vector = (await remote_embedders.embed(remote, ["tomatoes frost"])).vectors[0]
        params = {"p_query": "tomatoes frost", "p_query_embedding": vector, "p_include_shared": False}
        found = list((await ana.client.rpc("search_knowledge", params).execute()).data)
        assert [r["source_id"] for r in found] == [note]
        assert found[0]["similarity"] > 0.3
    finally:
        await admin.execute("select internal.switch_embedding_model($1, 'offline', 256)", OFFLINE.name)
        await wait_until(lambda: _serves(admin, OFFLINE.name), 60, "the offline model to serve again")
        await remote_embedders.aclose()
    assert [r["source_id"] for r in await search(ana, embedders, "tomatoes frost", p_include_shared=False)] == [note]


async def _serves(admin: asyncpg.Connection, name: str) -> bool:
    building = await admin.fetchval(
        "select count(*) from internal.settings where key = 'knowledge.next_embedding_model'"
    )
    return await serving(admin) == name and building == 0
