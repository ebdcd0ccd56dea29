"""A child's journal and analysed documents are searchable by the child's members and by nobody else: written
and uploaded through the official client, chunked and embedded by a real worker (the offline model), searched
with `rpc("search_knowledge")` under RLS, whose child-scoped policy goes through the membership helper. A
removed member finds nothing of the child from their next request on. The journey coach (Lior) retrieves from
the conversation's child's journal and documents, and cites them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError

from shared.embeddings import Embedders, EmbeddingModel
from tests.children.conftest import Clients, Family, Member, NewClient, add_child, join
from tests.children.test_files import ASSESSMENT, add_document, pdf, settled
from tests.children.test_journey import lior, talk
from tests.children.test_removal import write
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess
from tests.workers.test_knowledge import indexed

OFFLINE = EmbeddingModel(name="wordllama-l2-supercat-256", provider="offline", dimensions=256)
GIRAFFE = "Said 'giraffe' for the first time at the zoo, pointing at the tall one."


@pytest.fixture
async def embedders() -> AsyncIterator[Embedders]:
    found = Embedders.from_settings(None, None)
    yield found
    await found.aclose()


async def search(member: Member, embedders: Embedders, query: str, **options: Any) -> list[dict[str, Any]]:
    """search_knowledge as the member, by meaning and by words."""
    vector = (await embedders.embed(OFFLINE, [query])).vectors[0]
    params = {"p_query": query, "p_query_embedding": vector, "p_match_count": 20, **options}
    return list(await member.rpc("search_knowledge", params))


def found_rows(results: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["source"], r["source_id"]) for r in results}


async def chunks_of(member: Member, source_id: str) -> list[dict[str, Any]]:
    """The row's chunks as the member reads them straight from the table (RLS)."""
    return list((await member.client.table("knowledge_chunks").select("*").eq("source_id", source_id).execute()).data)


async def test_members_search_the_childs_journal_and_documents_and_nobody_else_does(
    family: Family, sign_up: Clients, new_client: NewClient, start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection, embedders: Embedders,
) -> None:  # fmt: skip
    start_worker()
    entry = await write(family.caregiver, family.child_id, GIRAFFE)
    # A text of its own: the fake model counts a replayed document's attempts by its text (test_files has this one).
    text = f"{ASSESSMENT}Seen at the Kestrelwood clinic, reference {uuid.uuid4()}\n"
    document = await add_document(family.caregiver, family.child_id, pdf(text), "application/pdf",
                                  "assessment.pdf", type="report")  # fmt: skip
    # Another family, with a journal of its own.
    other_parent = await sign_up("parent")
    other_child = await add_child(other_parent, name="Tom")
    theirs = await write(other_parent, other_child, "Tom said 'giraffe' too, at the zoo with his grandfather.")
    assert (await settled(family.viewer, "documents", document))["status"] == "analyzed"
    for row, text in ((entry, "giraffe"), (document, "20 words"), (theirs, "Tom")):
        await wait_until(lambda r=row, t=text: indexed(admin, r, t), 30, "the chunks")  # type: ignore[misc]

    chunk = await admin.fetchrow(
        "select owner_id, child_id::text, title from public.knowledge_chunks where source_id = $1", uuid.UUID(entry)
    )
    assert (chunk["owner_id"], chunk["child_id"]) == (None, family.child_id)
    assert chunk["title"].startswith("Journal: Noa, ")
    doc_chunks = await admin.fetch("select title, content from public.knowledge_chunks where source_id = $1 "
                                    "order by chunk_index", uuid.UUID(document))  # fmt: skip
    assert {c["title"] for c in doc_chunks} == {"Document: Noa, assessment.pdf"}
    doc_text = "\n".join(c["content"] for c in doc_chunks)
    assert "expressive vocabulary of about 20 words" in doc_text  # the analysis' quote
    assert "speech language therapy" in doc_text
    assert "Seen at the Kestrelwood clinic" in doc_text  # the document's own text, read for the analysis

    ours = {("journal_entries", entry), ("documents", document)}
    for name in ("owner", "caregiver", "viewer"):
        member = family.everyone()[name]
        results = await search(member, embedders, "when did she first say giraffe at the zoo")
        assert found_rows(results) >= {("journal_entries", entry)}, name
        assert ("journal_entries", theirs) not in found_rows(results), name
        words = await search(member, embedders, "expressive vocabulary speech therapy")
        assert ("documents", document) in found_rows(words), name
        # A word only the document's text has (no analysis quotes it).
        assert ("documents", document) in found_rows(await search(member, embedders, "Kestrelwood")), name
        assert {r["child_id"] for r in results + words if r["source"] in ("journal_entries", "documents")} == {
            family.child_id
        }
        assert len(await chunks_of(member, entry)) == 1, name

    # Nobody else: a stranger, another family (who finds their own), by meaning, by words, from the table.
    for outsider in (family.stranger, other_parent):
        results = await search(outsider, embedders, "giraffe at the zoo, expressive vocabulary")
        assert not found_rows(results) & ours
        assert await chunks_of(outsider, entry) == [] and await chunks_of(outsider, document) == []
        narrowed = await search(outsider, embedders, "giraffe zoo", p_child_id=family.child_id)
        assert not found_rows(narrowed) & ours
    assert ("journal_entries", theirs) in found_rows(await search(other_parent, embedders, "giraffe at the zoo"))
    # One child of several: p_child_id narrows the child-scoped part to it.
    await join(family.owner, other_parent, family.child_id, "viewer")
    both = await search(other_parent, embedders, "giraffe at the zoo")
    assert {("journal_entries", entry), ("journal_entries", theirs)} <= found_rows(both)
    only_noa = await search(other_parent, embedders, "giraffe at the zoo", p_child_id=family.child_id)
    assert ("journal_entries", entry) in found_rows(only_noa)
    assert ("journal_entries", theirs) not in found_rows(only_noa)

    # The words' ranking (security definer, for its plan) never answers for a child the caller does not share.
    async with admin.transaction():
        await admin.execute(
            "select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)",
            json.dumps({"sub": family.stranger.user_id, "role": "authenticated"}),
        )
        matched = await admin.fetch(
            "select id from tools.word_matches(tools.any_words_query('giraffe zoo'), "
            "'wordllama-l2-supercat-256', null, false, 50, $1)",
            uuid.UUID(family.child_id),
        )
    assert matched == []

    # Signed out: no search, no chunks.
    anon = await new_client()
    with pytest.raises(APIError) as refused:
        await anon.rpc("search_knowledge", {"p_query": "giraffe"}).execute()
    assert refused.value.code == "42501"
    with pytest.raises(APIError):
        await anon.table("knowledge_chunks").select("id").execute()


async def test_a_removed_member_finds_nothing_of_the_child_at_the_next_request(
    family: Family, start_worker: Callable[..., WorkerProcess], admin: asyncpg.Connection, embedders: Embedders
) -> None:
    start_worker()
    entry = await write(family.owner, family.child_id, GIRAFFE)
    await wait_until(lambda: indexed(admin, entry), 30, "the entry's chunks")
    assert ("journal_entries", entry) in found_rows(await search(family.caregiver, embedders, "giraffe at the zoo"))

    removed = (
        await family.owner.client.table("child_members").delete().eq("user_id", family.caregiver.user_id).execute()
    )
    assert len(removed.data) == 1
    assert not any(r["source"] == "journal_entries" for r in await search(family.caregiver, embedders, "giraffe zoo"))
    by_words = await family.caregiver.rpc("search_knowledge", {"p_query": "giraffe zoo"})
    assert all(r["source_id"] != entry for r in by_words)
    assert await chunks_of(family.caregiver, entry) == []
    # The viewer, still a member, still finds it.
    assert ("journal_entries", entry) in found_rows(await search(family.viewer, embedders, "giraffe at the zoo"))


async def test_edits_renames_and_deletions_reach_the_index(
    family: Family, start_worker: Callable[..., WorkerProcess], admin: asyncpg.Connection
) -> None:
    start_worker()
    entry = await write(family.caregiver, family.child_id, GIRAFFE)
    await wait_until(lambda: indexed(admin, entry, "giraffe"), 30, "the entry's chunks")
    await (
        family.caregiver.client.table("journal_entries")
        .update({"content": "Stacked six blocks."})
        .eq("id", entry)
        .execute()
    )
    await wait_until(lambda: indexed(admin, entry, "six blocks"), 30, "the edited entry's chunks")

    await family.owner.client.table("children").update({"name": "Noa Lee"}).eq("id", family.child_id).execute()

    async def retitled() -> bool:
        title = await admin.fetchval("select title from public.knowledge_chunks where source_id = $1", uuid.UUID(entry))
        return bool(title) and title.startswith("Journal: Noa Lee, ")

    await wait_until(retitled, 30, "the entry re-embedded under the child's new name")

    await family.owner.client.table("journal_entries").delete().eq("id", entry).execute()
    left = await admin.fetchval("select count(*) from public.knowledge_chunks where source_id = $1", uuid.UUID(entry))
    assert left == 0


async def reply_in(member: Member, conversation: str, text: str) -> dict[str, Any]:
    """A message in an existing conversation, and its finished reply."""
    sent = (await member.client.table("messages").insert({"conversation_id": conversation, "content": text})
            .execute()).data[0]  # fmt: skip

    async def replied() -> bool:
        rows = (await member.client.table("messages").select("status").eq("reply_to", sent["id"]).execute()).data
        return bool(rows) and rows[0]["status"] in ("complete", "failed")

    await wait_until(replied, 40, "the coach's reply")
    return dict((await member.client.table("messages").select("*").eq("reply_to", sent["id"]).single().execute()).data)


async def reply_requests(fake_llm: str, needle: str) -> list[dict[str, Any]]:
    """The replies' model requests that carry `needle` (the message's safety check carries it too)."""
    async with httpx.AsyncClient() as http:
        entries = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    return [e for e in entries if e["kind"] == "anthropic" and needle in json.dumps(e.get("body"))]


async def test_the_journey_coach_cites_the_childs_journal_and_searches_only_that_child(
    family: Family, start_worker: Callable[..., WorkerProcess], admin: asyncpg.Connection, fake_llm: str
) -> None:
    start_worker()
    entry = await write(family.caregiver, family.child_id, GIRAFFE)
    # The caregiver's own child, Noa's cousin: a conversation about Noa never sees it.
    cousin = await add_child(family.caregiver, name="Ella")
    elsewhere = await write(family.caregiver, cousin, "Ella said 'giraffe' at the zoo as well.")
    for row in (entry, elsewhere):
        await wait_until(lambda r=row: indexed(admin, r), 30, "the entries' chunks")  # type: ignore[misc]
    coach = await lior(admin)

    conversation, reply = await talk(family.caregiver, coach, family.child_id,
                                     "When did Noa first say giraffe? [[replay:journey_cites_journal]]")  # fmt: skip
    assert reply["status"] == "complete", reply
    assert reply["content"] == "Noa first said giraffe at the zoo [1], and you wrote it down that same day."
    [citation] = reply["citations"]
    assert (citation["ref"], citation["source"], citation["source_id"]) == (1, "journal_entries", entry)
    assert "giraffe" in citation["excerpt"] and citation["title"].startswith("Journal: Noa, ")
    sources = await admin.fetch("select source_id::text from internal.reply_sources where message_id = $1",
                                uuid.UUID(reply["id"]))  # fmt: skip
    assert {r["source_id"] for r in sources} == {entry}
    [request] = await reply_requests(fake_llm, "journey_cites_journal")
    system = json.dumps(request["body"]["system"])
    assert "(journal_entries): Said 'giraffe'" in system and "Ella" not in system

    # The search tool, in the same kind of conversation, finds only Noa's entries too.
    _, searched = await talk(family.caregiver, coach, family.child_id,
                             'Anything else? [[call:search_knowledge {"query": "giraffe at the zoo"}]]')  # fmt: skip
    [call] = (await family.caregiver.client.table("tool_calls").select("*").eq("message_id", searched["id"])
              .execute()).data  # fmt: skip
    assert call["status"] == "succeeded", call
    results = call["result"]["results"]
    assert {r["source_id"] for r in results if r["source"] == "journal_entries"} == {entry}
    assert all(r["source_id"] != elsewhere for r in results)

    # Removed, the caregiver's coach retrieves nothing of Noa any more (in the conversation they had).
    await family.owner.client.table("child_members").delete().eq("user_id", family.caregiver.user_id).execute()
    after = await reply_in(family.caregiver, conversation, "And giraffe again?")
    assert after["status"] == "complete", after
    left = await admin.fetch("select source_id::text from internal.reply_sources where message_id = $1",
                             uuid.UUID(after["id"]))  # fmt: skip
    assert left == []
