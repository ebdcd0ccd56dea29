"""Experts: operator-managed, read by signed-in users when active and verified; a caregiver asks for matches,
the job finds candidates in SQL by specialty and distance and the model ranks them (a recorded answer that
also names an expert outside the radius: left out)."""

from __future__ import annotations

import json
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError

from tests.children.conftest import Family
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess

TEL_AVIV = (32.0853, 34.7818)
EXPERTS = [
    # id suffix, name, specialties, city, latitude, longitude, rating, verified, active
    (
        1,
        "Dr. Dana Levi",
        ["developmental_pediatrics", "speech_language_therapy"],
        "Tel Aviv",
        32.0880,
        34.7800,
        4.8,
        True,
        True,
    ),
    (2, "Yael Cohen", ["speech_language_therapy"], "Ramat Gan", 32.0684, 34.8248, 4.9, True, True),
    (3, "Ron Bar", ["physiotherapy"], "Tel Aviv", 32.0800, 34.7800, 4.7, True, True),
    (4, "Noam Shalev", ["speech_language_therapy"], "Haifa", 32.7940, 34.9896, 5.0, True, True),
    (5, "Retired Therapist", ["speech_language_therapy"], "Tel Aviv", 32.0850, 34.7810, 4.0, True, False),
    (6, "Unchecked Therapist", ["speech_language_therapy"], "Tel Aviv", 32.0850, 34.7810, 4.0, False, True),
]


def expert_id(n: int) -> str:
    return f"e0000000-0000-4000-8000-{n:012d}"


@pytest.fixture
async def experts(admin: asyncpg.Connection) -> None:
    for n, name, specialties, city, lat, lon, rating, verified, active in EXPERTS:
        await admin.execute(
            "insert into public.experts (id, name, specialties, city, latitude, longitude, rating, reviews_count, "
            "languages, verified, active) values ($1, $2, $3, $4, $5, $6, $7, 12, '{he,en}', $8, $9) "
            "on conflict (id) do nothing",
            expert_id(n), name, specialties, city, lat, lon, rating, verified, active,
        )  # fmt: skip


async def analysed_document(admin: asyncpg.Connection, child_id: str) -> None:
    """An analysed document pointing to speech therapy (written as a worker would; its file is not needed)."""
    async with admin.transaction():
        await admin.execute("set local session_replication_role = replica")  # no file check, no analysis job
        await admin.execute(
            "insert into public.documents (child_id, filename, storage_path, mime_type, size_bytes, status, analysis) "
            "values ($1::uuid, 'assessment.pdf', $1::text || '/assessment.pdf', 'application/pdf', 100, 'analyzed', "
            "$2)",
            child_id,
            json.dumps({"summary": "Speech assessment", "specialties_to_consult": ["speech_language_therapy"]}),
        )


async def test_experts_are_read_when_active_and_verified(family: Family, experts: None) -> None:
    names = {e["name"] for e in (await family.stranger.client.table("experts").select("name").execute()).data}
    assert {"Dr. Dana Levi", "Yael Cohen", "Noam Shalev"} <= names
    assert not names & {"Retired Therapist", "Unchecked Therapist"}
    with pytest.raises(APIError):
        await (
            family.owner.client.table("experts")
            .insert({"name": "Me", "specialties": ["audiology"], "city": "X", "latitude": 0, "longitude": 0})
            .execute()
        )


async def test_matches_are_candidates_by_specialty_and_distance_ranked_by_the_model(
    family: Family,
    experts: None,
    admin: asyncpg.Connection,
    start_worker: Callable[..., WorkerProcess],
    fake_llm: str,
) -> None:
    await analysed_document(admin, family.child_id)
    await (
        family.caregiver.client.table("children")
        .update({"notes": "[[replay:anthropic_expert_ranking]]"})
        .eq("id", family.child_id)
        .execute()
    )
    with pytest.raises(APIError) as viewer:
        await family.viewer.rpc(
            "find_experts", {"p_child_id": family.child_id, "p_latitude": 32.0, "p_longitude": 34.8}
        )
    assert viewer.value.code == "42501"

    start_worker()
    queued = await family.caregiver.rpc(
        "find_experts",
        {"p_child_id": family.child_id, "p_latitude": TEL_AVIV[0], "p_longitude": TEL_AVIV[1], "p_radius_km": 30},
    )
    assert queued == {"queued": True}

    async def matched() -> bool:
        found = (
            await family.viewer.client.table("expert_matches").select("id").eq("child_id", family.child_id).execute()
        )
        return len(found.data) == 2

    await wait_until(matched, 40, "the expert matches")
    rows = (
        await family.viewer.client.table("expert_matches")
        .select("expert_id, score, reasons, distance_km, status")
        .eq("child_id", family.child_id)
        .order("score", desc=True)
        .execute()
    ).data
    assert [(r["expert_id"], float(r["score"]), r["status"]) for r in rows] == [
        (expert_id(2), 0.92, "suggested"),
        (expert_id(1), 0.81, "suggested"),
    ]  # the far expert the model also named is not a candidate: left out
    assert 3 < float(rows[0]["distance_km"]) < 6 and float(rows[1]["distance_km"]) < 1
    assert rows[0]["reasons"][0].startswith("Speech and language therapist")

    # The candidates the model saw: the speech therapists within 30 km, nearest first; nobody else.
    async with httpx.AsyncClient() as http:
        logged = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    prompt = [
        e["body"]["messages"][0]["content"] for e in logged
        if e["kind"] == "structured" and e["body"]["tool_choice"]["name"] == "record_expert_matches"
    ][-1]  # fmt: skip
    shown = [name for _, name, *_ in EXPERTS if name in prompt]
    assert shown == ["Dr. Dana Levi", "Yael Cohen"]
    assert prompt.index("Dr. Dana Levi") < prompt.index("Yael Cohen")

    match = rows[0]
    updated = (
        await family.caregiver.client.table("expert_matches")
        .update({"status": "contacted"})
        .eq("expert_id", match["expert_id"])
        .eq("child_id", family.child_id)
        .execute()
    )
    assert updated.data[0]["status"] == "contacted"
    for outsider in (family.viewer, family.stranger):
        nothing = (
            await outsider.client.table("expert_matches")
            .update({"status": "completed"})
            .eq("child_id", family.child_id)
            .execute()
        )
        assert nothing.data == []
    assert (await family.stranger.client.table("expert_matches").select("*").execute()).data == []
    journey = await admin.fetchval("select artifacts from public.journeys where child_id = $1", family.child_id)
    assert "expert_matches" in {a["kind"] for a in json.loads(journey)}
