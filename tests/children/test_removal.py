"""Removing a member takes effect at once everywhere: an open Realtime subscription stops receiving, REST
reads and writes nothing, and the coach's context no longer holds the child."""

from __future__ import annotations

import json

import asyncpg
import pytest
from postgrest.exceptions import APIError

from tests.children.conftest import Family, Member, watch


async def write(member: Member, child_id: str, content: str) -> str:
    row = {"child_id": child_id, "content": content, "tags": ["speech"]}
    return str((await member.client.table("journal_entries").insert(row).execute()).data[0]["id"])


async def test_a_removed_caregiver_stops_receiving_at_once_and_the_coach_forgets_the_child(
    family: Family, admin: asyncpg.Connection
) -> None:
    caregiver_feed = await watch(family.caregiver, "journal_entries", family.child_id)
    viewer_feed = await watch(family.viewer, "journal_entries", family.child_id)
    stranger_feed = await watch(family.stranger, "journal_entries", family.child_id)
    first = await write(family.owner, family.child_id, "Said 'ball' today")
    assert (await caregiver_feed.next())["id"] == first
    assert (await viewer_feed.next())["id"] == first
    context = await admin.fetchval("select internal.child_context($1, $2)", family.caregiver.user_id, family.child_id)
    assert json.loads(context)["journal"][0]["content"] == "Said 'ball' today"

    removed = (
        await family.owner.client.table("child_members").delete().eq("user_id", family.caregiver.user_id).execute()
    )
    assert len(removed.data) == 1
    second = await write(family.owner, family.child_id, "Pointed at the dog")
    third = await write(family.owner, family.child_id, "Slept well")
    # The viewer, still a member, gets both; the caregiver's open subscription got nothing after the removal.
    assert [(await viewer_feed.next())["id"] for _ in range(2)] == [second, third]
    assert caregiver_feed.drain() == []
    assert stranger_feed.drain() == []

    assert (await family.caregiver.client.table("journal_entries").select("*").execute()).data == []
    with pytest.raises(APIError) as write_refused:
        await write(family.caregiver, family.child_id, "Still here?")
    assert write_refused.value.code == "42501"
    assert (
        await admin.fetchval("select internal.child_context($1, $2)", family.caregiver.user_id, family.child_id) is None
    )


async def test_journal_entries_follow_the_roles(family: Family) -> None:
    entry = await write(family.caregiver, family.child_id, "Built a tower of five blocks")
    for name in ("owner", "caregiver", "viewer"):
        rows = (await family.everyone()[name].client.table("journal_entries").select("id").execute()).data
        assert [r["id"] for r in rows] == [entry], name
    assert (await family.stranger.client.table("journal_entries").select("*").execute()).data == []
    with pytest.raises(APIError):
        await write(family.viewer, family.child_id, "A viewer writes nothing")
    with pytest.raises(APIError) as tags:
        await (
            family.owner.client.table("journal_entries")
            .insert({"child_id": family.child_id, "content": "x", "tags": [""]})
            .execute()
        )
    assert "1 to 40 characters" in tags.value.message
    # Authors edit their own entries; the owner may delete anyone's.
    other = await family.owner.client.table("journal_entries").update({"content": "edited"}).eq("id", entry).execute()
    assert other.data == []
    mine = (
        await family.caregiver.client.table("journal_entries").update({"content": "edited"}).eq("id", entry).execute()
    )
    assert mine.data[0]["content"] == "edited"
    deleted = await family.owner.client.table("journal_entries").delete().eq("id", entry).execute()
    assert len(deleted.data) == 1
