"""The schema through the REST endpoint with supabase-py, exactly as a frontend uses it.

Skipped while the devstack has no /rest/v1; the SQL-level matrix (test_rls_matrix.py) covers the same rules.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from tests.conftest import Stack

PASSWORD = "correct-horse-1"
SignedIn = Callable[[str], Awaitable[tuple[AsyncClient, str]]]


@pytest.fixture(scope="module")
def rest(stack: Stack) -> Stack:
    response = httpx.get(f"{stack.api_url}/rest/v1/coaches", headers={"apikey": stack.anon_key}, timeout=10)
    if response.status_code == 404 and "PGRST" not in response.text:
        pytest.skip("the devstack has no /rest/v1 yet")
    return stack


@pytest.fixture
async def clients(rest: Stack) -> AsyncIterator[Callable[[str], Awaitable[AsyncClient]]]:
    pools: list[httpx.AsyncClient] = []

    async def make(key: str) -> AsyncClient:
        pool = httpx.AsyncClient(timeout=10)
        pools.append(pool)
        return await acreate_client(rest.api_url, key, AsyncClientOptions(auto_refresh_token=False, httpx_client=pool))

    yield make
    for pool in pools:
        await pool.aclose()


@pytest.fixture
async def signed_in(rest: Stack, clients: Callable[[str], Awaitable[AsyncClient]]) -> SignedIn:
    async def sign_up(name: str) -> tuple[AsyncClient, str]:
        client = await clients(rest.anon_key)
        email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
        response = await client.auth.sign_up(
            {"email": email, "password": PASSWORD, "options": {"data": {"display_name": name}}}
        )
        assert response.session is not None and response.user is not None
        return client, response.user.id

    return sign_up


async def test_a_new_user_sees_their_profile_and_the_catalogue(signed_in: SignedIn) -> None:
    client, user_id = await signed_in("Ana")
    profiles = (await client.table("profiles").select("id, display_name, timezone").execute()).data
    assert profiles == [{"id": user_id, "display_name": "Ana", "timezone": "UTC"}]
    coaches = (await client.table("coaches").select("slug, name, intro").order("sort_order").execute()).data
    assert [c["slug"] for c in coaches][:3] == ["maya", "theo", "noor"]
    leaves = (
        await client.table("categories").select("slug, checkin_questions").eq("checkin_enabled", True).execute()
    ).data
    assert len(leaves) >= 10 and all(c["checkin_questions"] for c in leaves)


async def test_anon_reads_nothing(rest: Stack, clients: Callable[[str], Awaitable[AsyncClient]]) -> None:
    anon = await clients(rest.anon_key)
    with pytest.raises(APIError) as info:
        await anon.table("coaches").select("*").execute()
    assert info.value.code == "42501"


async def test_a_conversation_from_the_app(signed_in: SignedIn) -> None:
    client, user_id = await signed_in("Ben")
    coach = (await client.table("coaches").select("id").eq("slug", "maya").single().execute()).data
    conversation = (
        await client.table("conversations").insert({"coach_id": coach["id"], "title": "Evenings"}).execute()
    ).data[0]
    assert conversation["user_id"] == user_id and conversation["summary"] is None
    await (
        client.table("messages")
        .insert({"conversation_id": conversation["id"], "content": "I can't switch off after work."})
        .execute()
    )
    messages = (
        await client.table("messages")
        .select("role, status, content")
        .eq("conversation_id", conversation["id"])
        .order("created_at")
        .execute()
    ).data
    assert messages[0] == {"role": "user", "status": "complete", "content": "I can't switch off after work."}

    with pytest.raises(APIError) as info:
        await (
            client.table("messages")
            .insert({"conversation_id": conversation["id"], "role": "assistant", "content": "I am the coach now"})
            .execute()
        )
    assert info.value.code == "42501"
    with pytest.raises(APIError) as info:
        await client.table("conversations").update({"summary": "Nothing to see"}).eq("id", conversation["id"]).execute()
    assert info.value.code == "42501"
    with pytest.raises(APIError) as info:
        await client.table("messages").insert({"conversation_id": conversation["id"], "content": "x" * 8001}).execute()
    assert info.value.code == "23514" and "content" in info.value.message


async def test_checkins_and_recommendations_from_the_app(
    rest: Stack, signed_in: SignedIn, clients: Callable[[str], Awaitable[AsyncClient]]
) -> None:
    client, user_id = await signed_in("Cleo")
    sleep = (await client.table("categories").select("id").eq("slug", "sleep").single().execute()).data
    with pytest.raises(APIError) as info:
        await (
            client.table("checkins")
            .insert({"category_id": sleep["id"], "level": 6, "answers": {"hours": 30}, "status": "completed"})
            .execute()
        )
    assert info.value.code == "23514" and info.value.message == 'answers: "hours" must be a number between 0 and 16'
    checkin = (
        await client.table("checkins")
        .insert(
            {"category_id": sleep["id"], "level": 6, "answers": {"hours": 6.5, "quality": 3}, "status": "completed"}
        )
        .execute()
    ).data[0]
    assert checkin["completed_at"] is not None and checkin["summary"] is None

    service = await clients(rest.service_role_key)
    recommendation = (
        await service.table("recommendations")
        .insert(
            {
                "user_id": user_id,
                "checkin_id": checkin["id"],
                "category_id": sleep["id"],
                "title": "Same wake-up time all week",
                "importance": 3,
            }
        )
        .execute()
    ).data[0]
    with pytest.raises(APIError) as info:
        await client.table("recommendations").update({"importance": 5}).eq("id", recommendation["id"]).execute()
    assert info.value.code == "42501"
    updated = (
        await client.table("recommendations").update({"status": "accepted"}).eq("id", recommendation["id"]).execute()
    ).data
    assert [r["status"] for r in updated] == ["accepted"]
