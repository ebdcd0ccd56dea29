"""Auth's emailed flows with supabase-py, unchanged, each email read from the mail catcher's Mailpit API:
password reset, magic link and email OTP, invite, email change, reauthentication, admin links."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError

from tests.auth_mail import inbox, last_mail
from tests.conftest import Stack

PASSWORD = "correct-horse-1"
SITE_URL = "http://127.0.0.1:3000"
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[list[httpx.AsyncClient]]:
    pools: list[httpx.AsyncClient] = []
    yield pools
    for pool in pools:
        await pool.aclose()


async def client_for(stack: Stack, pools: list[httpx.AsyncClient], key: str | None = None) -> AsyncClient:
    pool = httpx.AsyncClient(timeout=10)
    pools.append(pool)
    options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool)
    return await acreate_client(stack.api_url, key or stack.anon_key, options=options)


async def test_password_reset_by_emailed_code(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("reset")
    client = await client_for(stack, clients)
    await client.auth.sign_up({"email": email, "password": PASSWORD})
    await client.auth.sign_out()

    await client.auth.reset_password_for_email(email, {"redirect_to": f"{SITE_URL}/reset"})
    mail = last_mail(stack.mail_url, email, "Reset Your Password")
    assert mail.to == [email] and "/auth/v1/verify?token=pkce_" in mail.link  # supabase-py's PKCE flow
    verified = await client.auth.verify_otp({"email": email, "token": mail.code, "type": "recovery"})
    assert verified.session is not None and verified.user is not None
    await client.auth.update_user({"password": "a-brand-new-password"})
    await client.auth.sign_out()
    with pytest.raises(AuthApiError) as old:
        await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert old.value.code == "invalid_credentials"
    again = await client.auth.sign_in_with_password({"email": email, "password": "a-brand-new-password"})
    assert again.session is not None
    with pytest.raises(AuthApiError) as spent:  # a code works once
        await client.auth.verify_otp({"email": email, "token": mail.code, "type": "recovery"})
    assert (spent.value.status, spent.value.code) == (403, "otp_expired")


async def test_magic_link_signs_up_and_in_through_the_link(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("magic")
    client = await client_for(stack, clients)
    await client.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": f"{SITE_URL}/welcome"}})
    mail = last_mail(stack.mail_url, email, "Your Magic Link")
    async with httpx.AsyncClient(timeout=10) as browser:
        landing = await browser.get(mail.link)
    assert landing.status_code == 303
    target = urlsplit(landing.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{SITE_URL}/welcome"
    code = parse_qs(target.query)["code"][0]  # PKCE: the app exchanges the code with its verifier
    session = await client.auth.exchange_code_for_session({"auth_code": code})
    assert session.user is not None and session.user.email == email
    assert session.user.email_confirmed_at is not None


async def test_email_otp_sign_in_and_refusals(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("otp")
    client = await client_for(stack, clients)
    await client.auth.sign_up({"email": email, "password": PASSWORD})
    await client.auth.sign_out()
    with pytest.raises(AuthApiError) as no_user:
        await client.auth.sign_in_with_otp({"email": new_email("nobody"), "options": {"should_create_user": False}})
    assert (no_user.value.status, no_user.value.code) == (422, "otp_disabled")

    async with httpx.AsyncClient(base_url=f"{stack.api_url}/auth/v1", headers={"apikey": stack.anon_key}) as http:
        await client.auth.sign_in_with_otp({"email": email})
        again = await http.post("/otp", json={"email": email}, headers=API_VERSION)  # within max_frequency (1 s)
        bad_link = await http.get(
            "/verify", params={"token": "nope", "type": "magiclink", "redirect_to": "https://evil.example"}
        )
    assert again.status_code == 429 and again.json()["code"] == "over_email_send_rate_limit"
    assert bad_link.status_code == 303  # an unlisted redirect falls back to the site URL
    assert bad_link.headers["location"].startswith(f"{SITE_URL}#error=access_denied&error_code=otp_expired")
    code = last_mail(stack.mail_url, email, "Your Magic Link").code
    with pytest.raises(AuthApiError) as wrong:
        await client.auth.verify_otp(
            {"email": email, "token": "000000" if code != "000000" else "111111", "type": "email"}
        )
    assert (wrong.value.status, wrong.value.code) == (403, "otp_expired")
    signed_in = await client.auth.verify_otp({"email": email, "token": code, "type": "email"})
    assert signed_in.session is not None and signed_in.user is not None and signed_in.user.email == email


async def test_invite_accepted_by_token_hash(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("invitee")
    admin = await client_for(stack, clients, stack.service_role_key)
    invited = await admin.auth.admin.invite_user_by_email(email, {"data": {"role_in_family": "caregiver"}})
    assert invited.user.email == email and invited.user.invited_at is not None
    assert invited.user.email_confirmed_at is None
    mail = last_mail(stack.mail_url, email, "You have been invited")
    client = await client_for(stack, clients)
    accepted = await client.auth.verify_otp({"token_hash": mail.token_hash, "type": "invite"})
    assert accepted.user is not None and accepted.user.email_confirmed_at is not None
    assert accepted.user.user_metadata["role_in_family"] == "caregiver"
    await client.auth.update_user({"password": "caregiver-password"})
    with pytest.raises(AuthApiError) as twice:
        await admin.auth.admin.invite_user_by_email(email)
    assert (twice.value.status, twice.value.code) == (422, "email_exists")


async def test_email_change_confirmed_from_the_new_address(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    old, new = new_email("old"), new_email("new")
    client = await client_for(stack, clients)
    await client.auth.sign_up({"email": old, "password": PASSWORD})
    pending = await client.auth.update_user({"email": new})
    assert pending.user.email == old and pending.user.new_email == new
    to_new = last_mail(stack.mail_url, new, "Confirm Email Change")
    to_old = last_mail(stack.mail_url, old, "Confirm Email Change")  # double_confirm_changes: both are told
    assert to_new.code != to_old.code
    changed = await client.auth.verify_otp({"email": new, "token": to_new.code, "type": "email_change"})
    assert changed.user is not None and changed.user.email == new
    await client.auth.sign_out()
    again = await client.auth.sign_in_with_password({"email": new, "password": PASSWORD})
    assert again.user is not None and again.user.email == new


async def test_reauthentication_nonce_for_a_password_change(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("reauth")
    client = await client_for(stack, clients)
    await client.auth.sign_up({"email": email, "password": PASSWORD})
    await client.auth.reauthenticate()
    nonce = last_mail(stack.mail_url, email, "Confirm reauthentication").code
    with pytest.raises(AuthApiError) as wrong:
        await client.auth.update_user({"password": "another-password-1", "nonce": "123"})
    assert (wrong.value.status, wrong.value.code) == (422, "reauthentication_not_valid")
    await client.auth.update_user({"password": "another-password-1", "nonce": nonce})
    await client.auth.sign_out()
    assert (await client.auth.sign_in_with_password({"email": email, "password": "another-password-1"})).session


async def test_admin_generate_link_sends_nothing(stack: Stack, clients: list[httpx.AsyncClient]) -> None:
    email = new_email("generated")
    admin = await client_for(stack, clients, stack.service_role_key)
    link = await admin.auth.admin.generate_link({"type": "signup", "email": email, "password": PASSWORD})
    props = link.properties
    assert props.verification_type == "signup" and props.email_otp and props.action_link.startswith(stack.api_url)
    assert link.user.email == email and link.user.email_confirmed_at is None
    assert inbox(stack.mail_url, email) == []
    client = await client_for(stack, clients)
    confirmed = await client.auth.verify_otp({"token_hash": props.hashed_token, "type": "signup"})
    assert confirmed.user is not None and confirmed.user.email_confirmed_at is not None
    with pytest.raises(AuthApiError) as missing:
        await admin.auth.admin.generate_link({"type": "recovery", "email": new_email("ghost")})
    assert (missing.value.status, missing.value.code) == (404, "user_not_found")


async def test_what_the_default_config_keeps_off_and_the_metadata_bound(stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=f"{stack.api_url}/auth/v1", headers={"apikey": stack.anon_key, **API_VERSION}, timeout=10
    ) as http:
        anonymous = await http.post("/signup", json={})
        huge = await http.post(
            "/signup", json={"email": new_email("huge"), "password": PASSWORD, "data": {"blob": "x" * 500_000}}
        )
        session = (await http.post("/signup", json={"email": new_email("mfa"), "password": PASSWORD})).json()
        bearer = {"Authorization": f"Bearer {session['access_token']}"}
        enroll = await http.post("/factors", json={"factor_type": "totp"}, headers=bearer)
        grow = await http.put("/user", json={"data": {"blob": "x" * 9000}}, headers=bearer)
    assert (anonymous.status_code, anonymous.json()["code"]) == (422, "anonymous_provider_disabled")
    assert (enroll.status_code, enroll.json()["code"]) == (422, "mfa_totp_enroll_not_enabled")
    for response in (huge, grow):
        assert (response.status_code, response.json()["code"]) == (400, "validation_failed")
        assert "user_metadata is too large" in response.json()["message"]
