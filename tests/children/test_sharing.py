"""Sharing a child, with the official client: who reads and changes the child and its members, invitations
accepted, expired, reused and guessed, roles changed and members removed at once."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError
from postgrest.types import ReturnMethod

from tests.auth_mail import last_mail
from tests.children.conftest import Clients, Family, Member, NewClient, add_child
from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess


async def visible_children(member: Member) -> list[str]:
    return [row["id"] for row in (await member.client.table("children").select("id").execute()).data]


async def refused(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        await call.execute()
    return caught.value


async def test_members_read_the_child_caregivers_change_it_strangers_see_nothing(family: Family) -> None:
    for name in ("owner", "caregiver", "viewer"):
        assert await visible_children(family.everyone()[name]) == [family.child_id], name
    assert await visible_children(family.stranger) == []

    members = (await family.viewer.client.table("child_members").select("user_id, role").execute()).data
    assert {(m["user_id"], m["role"]) for m in members} == {
        (family.owner.user_id, "owner"),
        (family.caregiver.user_id, "caregiver"),
        (family.viewer.user_id, "viewer"),
    }
    assert (await family.stranger.client.table("child_members").select("*").execute()).data == []

    changed = (
        await family.caregiver.client.table("children")
        .update({"notes": "Loves trains"})
        .eq("id", family.child_id)
        .execute()
    )
    assert changed.data[0]["notes"] == "Loves trains"
    for name in ("viewer", "stranger"):
        nothing = (
            await family.everyone()[name]
            .client.table("children")
            .update({"notes": "x"})
            .eq("id", family.child_id)
            .execute()
        )
        assert nothing.data == [], name
    # Only an owner deletes the child; the caregiver's delete matches no row.
    assert (await family.caregiver.client.table("children").delete().eq("id", family.child_id).execute()).data == []


async def test_a_new_child_is_its_creators_and_nobody_elses(family: Family, sign_up: Clients) -> None:
    newcomer = await sign_up("parent")
    child_id = await add_child(newcomer, name="Ari", date_of_birth="2025-01-02")
    assert await visible_children(newcomer) == [child_id]
    assert child_id not in await visible_children(family.owner)
    with pytest.raises(APIError) as bad_zone:
        await add_child(newcomer, timezone="Mars/Base")
    assert "IANA" in bad_zone.value.message


async def members_of(family: Family) -> set[tuple[str, str]]:
    rows = (await family.owner.client.table("child_members").select("user_id, role").execute()).data
    return {(row["user_id"], row["role"]) for row in rows}


async def test_a_childs_id_is_no_key_an_upsert_of_someone_elses_child_adds_no_member(
    family: Family, sign_up: Clients
) -> None:
    """ON CONFLICT runs an insert's BEFORE triggers before it finds the row already there, and a skipped row
    does not undo them: the child's creator is made its owner only when the child is new."""
    before = await members_of(family)
    row = {"id": family.child_id, "name": "Mine now", "date_of_birth": "2020-01-01"}
    # A stranger who learnt the id (a share link's file paths carry it), and a viewer who left and comes back.
    await family.viewer.client.table("child_members").delete().eq("user_id", family.viewer.user_id).execute()
    for intruder in (family.stranger, family.viewer):
        mine = {**row, "created_by": intruder.user_id}
        for attempt in (
            intruder.client.table("children").upsert(mine, ignore_duplicates=True, returning=ReturnMethod.minimal),
            intruder.client.table("children").upsert(mine, ignore_duplicates=True),
            intruder.client.table("children").insert(mine),
        ):
            # RETURNING (even `1`, as for return=minimal) makes Postgres check the row against the SELECT
            # policy too, which a caller who did not become a member fails.
            assert (await refused(attempt)).code == "42501"
        assert await visible_children(intruder) == []
    assert await members_of(family) == before - {(family.viewer.user_id, "viewer")}
    child = (await family.owner.client.table("children").select("name").eq("id", family.child_id).execute()).data
    assert child == [{"name": "Noa"}]

    # The owner's own retry (an app syncing offline) is skipped as before; a new child by upsert is the caller's.
    again = await family.owner.client.table("children").upsert({**row, "created_by": family.owner.user_id},
                                                                  ignore_duplicates=True).execute()  # fmt: skip
    assert again.data == []
    newcomer = await sign_up("upserter")
    fresh = {"id": str(uuid.uuid4()), "name": "Ari", "date_of_birth": "2025-01-02", "created_by": newcomer.user_id}
    created = await newcomer.client.table("children").upsert(fresh, ignore_duplicates=True).execute()
    assert [r["id"] for r in created.data] == [fresh["id"]]
    mine = (await newcomer.client.table("child_members").select("user_id, role").execute()).data
    assert mine == [{"user_id": newcomer.user_id, "role": "owner"}]


async def test_a_null_child_id_is_nobodys_child(family: Family) -> None:
    """`not (null = any (...))` is null, not true: the checks refuse a null id instead of letting it through."""
    calls = {
        "find_experts": {"p_child_id": None, "p_latitude": 32.1, "p_longitude": 34.8},
        "invite_child_member": {"p_child_id": None, "p_email": "someone@example.com"},
        "create_share_link": {"p_child_id": None},
    }
    for name, params in calls.items():
        with pytest.raises(APIError) as refused_call:
            await family.owner.rpc(name, params)
        assert refused_call.value.code == "42501", name


async def test_invitations_are_owner_only_single_use_for_the_invited_address(family: Family, sign_up: Clients) -> None:
    grandma, nosy = await sign_up("grandma"), await sign_up("nosy")
    with pytest.raises(APIError) as not_owner:
        await family.caregiver.rpc("invite_child_member", {"p_child_id": family.child_id, "p_email": grandma.email})
    assert not_owner.value.code == "42501"

    invitation = await family.owner.rpc(
        "invite_child_member", {"p_child_id": family.child_id, "p_email": grandma.email.upper(), "p_role": "viewer"}
    )
    token = invitation["token"]
    assert len(token) >= 40
    rows = (await family.owner.client.table("child_invitations").select("*").execute()).data
    mine = next(r for r in rows if r["id"] == invitation["invitation_id"])
    assert mine["email"] == grandma.email and mine["role"] == "viewer" and not any("token" in k for k in mine)
    assert (await family.caregiver.client.table("child_invitations").select("id").execute()).data == []

    with pytest.raises(APIError) as other_address:
        await nosy.rpc("accept_child_invitation", {"p_token": token})
    assert "another email address" in other_address.value.message
    with pytest.raises(APIError) as guessed:
        await grandma.rpc("accept_child_invitation", {"p_token": secrets.token_urlsafe(32)})
    assert "not valid" in guessed.value.message and guessed.value.code == "PT404"  # HTTP 404, not 500

    accepted = await grandma.rpc("accept_child_invitation", {"p_token": token})
    assert accepted == {"child_id": family.child_id, "role": "viewer", "child_name": "Noa"}
    assert await visible_children(grandma) == [family.child_id]
    with pytest.raises(APIError) as reused:
        await grandma.rpc("accept_child_invitation", {"p_token": token})
    assert "already been used" in reused.value.message
    with pytest.raises(APIError) as member_already:
        await family.owner.rpc("invite_child_member", {"p_child_id": family.child_id, "p_email": grandma.email})
    assert "already a member" in member_already.value.message


async def test_an_expired_or_revoked_invitation_is_refused(
    family: Family, sign_up: Clients, admin: asyncpg.Connection
) -> None:
    late, revoked = await sign_up("late"), await sign_up("revoked")
    expired = await family.owner.rpc(
        "invite_child_member", {"p_child_id": family.child_id, "p_email": late.email, "p_valid_hours": 1}
    )
    await admin.execute(
        "update public.child_invitations set expires_at = now() - interval '1 minute' where id = $1",
        expired["invitation_id"],
    )
    with pytest.raises(APIError) as too_late:
        await late.rpc("accept_child_invitation", {"p_token": expired["token"]})
    assert "expired" in too_late.value.message

    pending = await family.owner.rpc("invite_child_member", {"p_child_id": family.child_id, "p_email": revoked.email})
    gone = await family.owner.client.table("child_invitations").delete().eq("id", pending["invitation_id"]).execute()
    assert len(gone.data) == 1
    with pytest.raises(APIError) as after_revoke:
        await revoked.rpc("accept_child_invitation", {"p_token": pending["token"]})
    assert "not valid" in after_revoke.value.message
    assert await visible_children(late) == [] and await visible_children(revoked) == []


async def test_owner_changes_roles_and_removes_members_and_keeps_an_owner(family: Family) -> None:
    promoted = (
        await family.owner.client.table("child_members")
        .update({"role": "caregiver"})
        .eq("user_id", family.viewer.user_id)
        .execute()
    )
    assert promoted.data[0]["role"] == "caregiver"
    edited = (
        await family.viewer.client.table("children")
        .update({"notes": "now a caregiver"})
        .eq("id", family.child_id)
        .execute()
    )
    assert len(edited.data) == 1  # the new role counts at the next request
    # A caregiver cannot change roles (not even their own).
    self_promotion = (
        await family.caregiver.client.table("child_members")
        .update({"role": "owner"})
        .eq("user_id", family.caregiver.user_id)
        .execute()
    )
    assert self_promotion.data == []

    removed = (
        await family.owner.client.table("child_members").delete().eq("user_id", family.caregiver.user_id).execute()
    )
    assert len(removed.data) == 1
    assert await visible_children(family.caregiver) == []

    error = await refused(family.owner.client.table("child_members").delete().eq("user_id", family.owner.user_id))
    assert "last owner" in error.message
    # A member may leave on their own.
    left = await family.viewer.client.table("child_members").delete().eq("user_id", family.viewer.user_id).execute()
    assert len(left.data) == 1 and await visible_children(family.viewer) == []


async def test_members_see_each_others_names_and_nothing_else_of_their_profiles(
    family: Family, sign_up: Clients
) -> None:
    expected = [("owner", "Owner"), ("caregiver", "Caregiver"), ("viewer", "Viewer")]
    for name, member in family.everyone().items():
        rows = await member.rpc("child_member_names", {"p_child_id": family.child_id})
        if name == "stranger":
            assert rows == [], name
            continue
        assert [(r["role"], r["display_name"]) for r in rows] == expected, name
        assert set(rows[0]) == {"child_id", "user_id", "role", "display_name", "accepted_at"}
    # Without a child: the members of every child the caller shares.
    other = await add_child(family.caregiver, name="Tom")
    mine = await family.caregiver.rpc("child_member_names", {})
    assert sorted({r["child_id"] for r in mine}) == sorted({family.child_id, other})
    assert await family.owner.rpc("child_member_names", {"p_child_id": other}) == []
    # The profiles themselves stay private.
    peek = await family.owner.client.table("profiles").select("*").eq("id", family.caregiver.user_id).execute()
    assert peek.data == []
    # A removed member no longer sees the others, and is gone from their list.
    await family.owner.client.table("child_members").delete().eq("user_id", family.viewer.user_id).execute()
    assert await family.viewer.rpc("child_member_names", {"p_child_id": family.child_id}) == []
    rows = await family.caregiver.rpc("child_member_names", {"p_child_id": family.child_id})
    assert [r["role"] for r in rows] == ["owner", "caregiver"]
    anonymous = await sign_up("late")
    assert await anonymous.rpc("child_member_names", {}) == []


async def test_an_invitee_without_an_account_gets_auths_invite_email_and_joins(
    family: Family,
    stack: Stack,
    start_worker: Callable[..., WorkerProcess],
    admin: asyncpg.Connection,
    new_client: NewClient,
) -> None:
    start_worker()
    address = f"new-caregiver-{secrets.token_hex(5)}@example.com"
    invitation = await family.owner.rpc("invite_child_member", {"p_child_id": family.child_id, "p_email": address})

    async def delivered() -> bool:
        rows = (
            await family.owner.client.table("child_invitations")
            .select("delivery")
            .eq("id", invitation["invitation_id"])
            .execute()
        ).data
        return bool(rows) and rows[0]["delivery"] != "queued"

    await wait_until(delivered, 30, "the invitation email job")
    row = await admin.fetchrow(
        "select i.delivery::text, j.payload from public.child_invitations i "
        "join internal.jobs j on j.dedupe_key = 'child_invitation:' || i.id::text where i.id = $1",
        invitation["invitation_id"],
    )
    assert row["delivery"] == "auth_invite_sent"
    assert invitation["token"] not in row["payload"]  # the job forgot the token once it was sent

    mail = last_mail(stack.mail_url, address, "You have been invited")
    assert "invitations%2Faccept%3Ftoken%3D" in mail.link or "invitations/accept?token=" in mail.link
    invitee = await new_client()  # signed in by the email's link
    session = await invitee.auth.verify_otp({"token_hash": mail.token_hash, "type": "invite"})
    assert session.user is not None and session.user.email == address
    accepted = await invitee.rpc("accept_child_invitation", {"p_token": invitation["token"]}).execute()
    assert accepted.data["role"] == "caregiver"
    children = (await invitee.table("children").select("id").execute()).data
    assert [c["id"] for c in children] == [family.child_id]

    # An address that already has an account gets no email from Auth: the owner shares the link.
    existing = await family.owner.rpc(
        "invite_child_member", {"p_child_id": family.child_id, "p_email": family.stranger.email}
    )

    async def existing_noted() -> bool:
        rows = (
            await family.owner.client.table("child_invitations")
            .select("delivery")
            .eq("id", existing["invitation_id"])
            .execute()
        )
        return bool(rows.data) and rows.data[0]["delivery"] == "existing_account"

    await wait_until(existing_noted, 30, "the existing account noted")
