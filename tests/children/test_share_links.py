"""Share links, with the official client signed out: the scope read through the RPC and counted, its files
through signed URLs minted per access with the token as a header; then refused after revocation and after
expiry; guessed tokens get nothing, and nothing outside the scope is reachable."""

from __future__ import annotations

import json
import secrets
from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import AsyncClient

from shared.report_pdf import ReportPage, render
from tests.children.conftest import Family, NewClient
from tests.children.test_files import add_document, pdf
from tests.conftest import Stack

CONTENT = {
    "title": "Noa's journey so far",
    "summary": "A short summary.",
    "sections": [{"heading": "Communication", "body": "Follows two-step instructions.", "points": []}],
    "disclaimer": "Not a diagnosis.",
}


async def ready_report(family: Family, admin: asyncpg.Connection, service: AsyncClient) -> tuple[str, str]:
    """A ready report with its PDF, as the journey_report job leaves it."""
    report_id = str(
        await admin.fetchval(
            "insert into public.reports (child_id, requested_by, variant) values ($1, $2, 'professional') returning id",
            family.child_id,
            family.owner.user_id,
        )
    )
    path = f"{family.child_id}/{report_id}.pdf"
    document = render(CONTENT, ReportPage("Noa", 30, "professional", "en", "2026-12-07"))
    await service.storage.from_("child-reports").upload(path, document, {"content-type": "application/pdf"})
    await admin.execute(
        "update public.reports set status = 'ready', content = $2, storage_path = $3 where id = $1",
        report_id,
        json.dumps(CONTENT),
        path,
    )
    return report_id, path


async def refused(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        await call.execute()
    return caught.value


async def test_a_share_link_is_read_anonymously_then_refused_after_revocation(
    family: Family, stack: Stack, admin: asyncpg.Connection, new_client: NewClient
) -> None:
    service = await new_client(key=stack.service_role_key)
    report_id, report_path = await ready_report(family, admin, service)
    shared = await add_document(
        family.caregiver, family.child_id, pdf("Shared letter"), "application/pdf", "shared.pdf"
    )
    private = await add_document(family.caregiver, family.child_id, pdf("Private"), "application/pdf", "private.pdf")
    private_path = (
        await family.owner.client.table("documents").select("storage_path").eq("id", private).single().execute()
    ).data["storage_path"]

    for outsider in (family.viewer, family.stranger):
        with pytest.raises(APIError) as not_allowed:
            await outsider.rpc("create_share_link", {"p_child_id": family.child_id, "p_report_id": report_id})
        assert not_allowed.value.code == "42501"
    link = await family.caregiver.rpc(
        "create_share_link",
        {"p_child_id": family.child_id, "p_report_id": report_id, "p_document_ids": [shared], "p_valid_hours": 24,
         "p_label": "For Dr. Levi"},
    )  # fmt: skip
    token = link["token"]

    # A professional without an account: the RPC shows exactly the scope, and counts the access.
    visitor = await new_client({"x-share-token": token})
    opened = (await visitor.rpc("open_share_link", {"p_token": token}).execute()).data
    assert opened["child"]["name"] == "Noa" and isinstance(opened["child"]["age_months"], int)
    assert opened["report"]["content"]["title"] == "Noa's journey so far"
    assert [d["id"] for d in opened["documents"]] == [shared]
    assert opened["label"] == "For Dr. Levi" and opened["access_count"] == 1
    again = (await visitor.rpc("open_share_link", {"p_token": token}).execute()).data
    assert again["access_count"] == 2

    # Files: read with the token on every request, the scope's files only.
    assert (await visitor.storage.from_("child-reports").download(report_path)).startswith(b"%PDF-")
    shared_path = opened["documents"][0]["file"]["path"]
    assert (await visitor.storage.from_("child-documents").download(shared_path)).startswith(b"%PDF-")
    with pytest.raises(StorageApiError):
        await visitor.storage.from_("child-documents").download(private_path)
    without_token = await new_client()
    with pytest.raises(StorageApiError):
        await without_token.storage.from_("child-reports").download(report_path)
    # No signed URL: it would work for as long as its maker asked, revoked or not.
    for bucket, path in (("child-reports", report_path), ("child-documents", shared_path)):
        with pytest.raises(StorageApiError):
            await visitor.storage.from_(bucket).create_signed_url(path, 10 * 365 * 24 * 3600)
        [many] = await visitor.storage.from_(bucket).create_signed_urls([path], 60)
        assert many["error"] and not many["signedURL"]
    # Nothing else of the family: no table is readable signed out.
    for table in ("children", "documents", "reports", "journeys", "share_links"):
        assert (await refused(visitor.table(table).select("*"))).code == "42501", table

    # The family sees the link and its use, never its token.
    rows = (await family.viewer.client.table("share_links").select("*").execute()).data
    assert [(r["id"], r["access_count"]) for r in rows] == [(link["id"], 2)]
    assert not any("token" in key for key in rows[0])
    assert (await family.stranger.client.table("share_links").select("*").execute()).data == []

    # Revoked: the RPC says so, and the files are refused from the next request on.
    revoked = (
        await family.caregiver.client.table("share_links")
        .update({"revoked_at": "now()"})
        .eq("id", link["id"])
        .execute()
    )
    assert revoked.data[0]["revoked_at"] is not None
    error = await refused(visitor.rpc("open_share_link", {"p_token": token}))
    assert "revoked" in error.message
    with pytest.raises(StorageApiError):
        await visitor.storage.from_("child-reports").download(report_path)
    undo = await refused(family.owner.client.table("share_links").update({"revoked_at": None}).eq("id", link["id"]))
    assert "stays revoked" in undo.message


async def test_an_expired_link_is_refused_and_guessing_gets_nothing(
    family: Family, stack: Stack, admin: asyncpg.Connection, new_client: NewClient
) -> None:
    service = await new_client(key=stack.service_role_key)
    report_id, report_path = await ready_report(family, admin, service)
    link = await family.owner.rpc("create_share_link", {"p_child_id": family.child_id, "p_report_id": report_id})
    visitor = await new_client({"x-share-token": link["token"]})
    assert (await visitor.rpc("open_share_link", {"p_token": link["token"]}).execute()).data["report"][
        "id"
    ] == report_id
    await admin.execute(
        "update public.share_links set expires_at = now() - interval '1 second' where id = $1", link["id"]
    )
    error = await refused(visitor.rpc("open_share_link", {"p_token": link["token"]}))
    assert "expired" in error.message
    with pytest.raises(StorageApiError):
        await visitor.storage.from_("child-reports").download(report_path)

    guesser = await new_client()
    for _ in range(30):
        guess = secrets.token_urlsafe(32)
        assert "not valid" in (await refused(guesser.rpc("open_share_link", {"p_token": guess}))).message
    for guess in (link["token"][:-1], link["token"].upper(), "", "' or 1=1 --"):
        assert "not valid" in (await refused(guesser.rpc("open_share_link", {"p_token": guess}))).message
    header_guesser = await new_client({"x-share-token": secrets.token_urlsafe(32)})
    with pytest.raises(StorageApiError):
        await header_guesser.storage.from_("child-reports").download(report_path)

    other = await refused(
        family.owner.client.rpc(
            "create_share_link",
            {"p_child_id": family.child_id, "p_document_ids": ["00000000-0000-4000-8000-000000000000"]},
        )
    )
    assert "document_ids" in other.message and other.code == "PT404"  # HTTP 404, not 500


async def test_a_link_is_revoked_when_its_maker_leaves_the_child_or_becomes_a_viewer(
    family: Family, stack: Stack, admin: asyncpg.Connection, new_client: NewClient
) -> None:
    service = await new_client(key=stack.service_role_key)
    report_id, _ = await ready_report(family, admin, service)
    caregiver_id = family.caregiver.user_id

    async def make(member: Any) -> str:
        link = await member.rpc("create_share_link", {"p_child_id": family.child_id, "p_report_id": report_id})
        return str(link["token"])

    async def opens(token: str) -> bool:
        try:
            await (await new_client()).rpc("open_share_link", {"p_token": token}).execute()
        except APIError as exc:
            assert "revoked" in exc.message
            return False
        return True

    async def set_role(role: str) -> None:
        changed = (
            await family.owner.client.table("child_members")
            .update({"role": role})
            .eq("child_id", family.child_id)
            .eq("user_id", caregiver_id)
            .execute()
        )
        assert len(changed.data) == 1

    owners = await make(family.owner)
    before_demotion = await make(family.caregiver)
    assert await opens(before_demotion)
    await set_role("viewer")  # a viewer may not share: the links they made stop
    assert not await opens(before_demotion)
    await set_role("caregiver")  # promoted again, the revoked link stays revoked; a new one works
    assert not await opens(before_demotion)
    before_removal = await make(family.caregiver)
    assert await opens(before_removal)
    removed = (
        await family.owner.client.table("child_members")
        .delete()
        .eq("child_id", family.child_id)
        .eq("user_id", caregiver_id)
        .execute()
    )
    assert len(removed.data) == 1
    assert not await opens(before_removal)
    assert await opens(owners)  # the others' links are theirs and stay
    revoked = await admin.fetch(
        "select created_by::text, revoked_at is not null as revoked from public.share_links where child_id = $1 "
        "order by created_at",
        family.child_id,
    )
    assert [(r["created_by"], r["revoked"]) for r in revoked] == [
        (family.owner.user_id, False), (caregiver_id, True), (caregiver_id, True)
    ]  # fmt: skip
    # Deleting the child takes its members and links at once (nothing left to revoke).
    await admin.execute("delete from public.children where id = $1", family.child_id)
    assert await admin.fetchval("select count(*) from public.share_links where child_id = $1", family.child_id) == 0
