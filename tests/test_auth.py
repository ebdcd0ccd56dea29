"""The Auth endpoint (/auth/v1) against supabase-py, unchanged, and raw HTTP where the client hides statuses.

Each test uses its own email addresses, so tests share the session's stack without colliding.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.conftest import Stack

PASSWORD = "correct-horse-1"
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}
# Tests that provoke a server-side error on purpose (and assert on it themselves).
LOGS_ERRORS_ON_PURPOSE = {"test_failing_auth_users_trigger_is_gotrue_500"}

ClientFactory = Callable[[str], Awaitable[AsyncClient]]


def new_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(autouse=True)
def no_unexpected_failures(stack: Stack, request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test when the gateway logged an error for it: bad input must never become a 500."""
    start = stack.gateway_log.stat().st_size
    yield
    with stack.gateway_log.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    failures = [line for line in lines if " ERROR " in line]
    if request.node.name not in LOGS_ERRORS_ON_PURPOSE:
        assert not failures, "\n".join(lines)


@pytest.fixture
async def make_client(stack: Stack) -> AsyncIterator[ClientFactory]:
    """Official supabase-py clients (anon or service key) whose HTTP pools are closed after the test."""
    pools: list[httpx.AsyncClient] = []

    async def make(key: str) -> AsyncClient:
        pool = httpx.AsyncClient(timeout=10)
        pools.append(pool)
        options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool)
        return await acreate_client(stack.api_url, key, options=options)

    yield make
    for pool in pools:
        await pool.aclose()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to /auth/v1 with the anon key, for exact status and body assertions."""
    async with httpx.AsyncClient(
        base_url=f"{stack.api_url}/auth/v1", headers={"apikey": stack.anon_key, **API_VERSION}, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.dsn)
    yield conn
    await conn.close()


def claims_of(token: str, stack: Stack) -> dict[str, Any]:
    """A user token's claims, verified as a resource server would: ES256 against the published JWKS."""
    keys = httpx.get(f"{stack.api_url}/auth/v1/.well-known/jwks.json", timeout=10).json()["keys"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == keys[0]["kid"]
    key = jwt.PyJWK(keys[0]).key
    decoded: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience="authenticated")
    return decoded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["X-Supabase-Api-Version"] == "2024-01-01"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    return body


async def sign_up(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await http.post("/signup", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


async def refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/token", params={"grant_type": "refresh_token"}, json={"refresh_token": token})


# --- supabase-py flows -----------------------------------------------------------------------------------


async def test_user_lifecycle_with_supabase_py(
    stack: Stack, make_client: ClientFactory, db: asyncpg.Connection
) -> None:
    alice, bob = new_email("alice"), new_email("bob")
    client = await make_client(stack.anon_key)
    # supabase-py signs up with a PKCE code challenge (flow_type "pkce"); auto-confirm still yields a session.
    signed_up = await client.auth.sign_up({"email": alice, "password": PASSWORD, "options": {"data": {"name": "A"}}})
    assert signed_up.session is not None and signed_up.user is not None
    assert signed_up.user.email == alice and signed_up.user.email_confirmed_at is not None
    assert signed_up.user.user_metadata["name"] == "A"
    assert signed_up.user.user_metadata["email_verified"] is True
    assert signed_up.user.identities and signed_up.user.identities[0].provider == "email"
    other = await (await make_client(stack.anon_key)).auth.sign_up({"email": bob, "password": PASSWORD})
    assert other.user is not None and other.user.id != signed_up.user.id

    signed_in = await client.auth.sign_in_with_password({"email": alice, "password": PASSWORD})
    assert signed_in.session is not None
    claims = claims_of(signed_in.session.access_token, stack)
    assert claims["sub"] == signed_up.user.id and claims["email"] == alice
    assert claims["iss"] == f"{stack.api_url}/auth/v1" and claims["role"] == "authenticated"
    assert claims["aal"] == "aal1" and claims["amr"][0]["method"] == "password"
    assert claims["is_anonymous"] is False and claims["user_metadata"]["name"] == "A"
    assert claims["exp"] - claims["iat"] == 3600 == signed_in.session.expires_in

    fetched = await client.auth.get_user()
    assert fetched is not None and fetched.user.id == signed_up.user.id

    updated = await client.auth.update_user({"data": {"x": 1, "name": None}})
    assert updated.user.user_metadata["x"] == 1 and "name" not in updated.user.user_metadata

    old_refresh = signed_in.session.refresh_token
    refreshed = await client.auth.refresh_session()
    assert refreshed.session is not None and refreshed.session.refresh_token != old_refresh
    assert claims_of(refreshed.session.access_token, stack)["user_metadata"]["x"] == 1
    rows = await db.fetch(
        "select token, revoked, parent from auth.refresh_tokens where token = any($1::text[])",
        [old_refresh, refreshed.session.refresh_token],
    )
    by_token = {row["token"]: row for row in rows}
    assert by_token[old_refresh]["revoked"] is True
    assert by_token[refreshed.session.refresh_token]["parent"] == old_refresh

    access_token = refreshed.session.access_token
    await client.auth.sign_out()
    with pytest.raises(AuthApiError) as gone:
        await client.auth.get_user(access_token)
    assert (gone.value.status, gone.value.code) == (403, "session_not_found")


async def test_sign_in_errors_carry_gotrue_codes(stack: Stack, make_client: ClientFactory) -> None:
    email = new_email()
    client = await make_client(stack.anon_key)
    await client.auth.sign_up({"email": email, "password": PASSWORD})

    with pytest.raises(AuthApiError) as wrong:
        await client.auth.sign_in_with_password({"email": email, "password": "not-the-password"})
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")
    with pytest.raises(AuthApiError) as unknown:
        await client.auth.sign_in_with_password({"email": new_email(), "password": PASSWORD})
    assert (unknown.value.status, unknown.value.code) == (400, "invalid_credentials")
    with pytest.raises(AuthApiError) as duplicate:
        await client.auth.sign_up({"email": email.upper(), "password": PASSWORD})
    assert (duplicate.value.status, duplicate.value.code) == (422, "user_already_exists")
    with pytest.raises(AuthWeakPasswordError) as weak:
        await client.auth.sign_up({"email": new_email(), "password": "12345"})
    assert (weak.value.status, weak.value.code, weak.value.reasons) == (422, "weak_password", ["length"])
    with pytest.raises(AuthApiError) as invalid:
        await client.auth.sign_up({"email": "not-an-email", "password": PASSWORD})
    assert (invalid.value.status, invalid.value.code) == (400, "validation_failed")


async def test_admin_creates_lists_and_deletes_users(
    stack: Stack, make_client: ClientFactory, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = (await make_client(stack.service_role_key)).auth.admin
    tag = f"admin{uuid.uuid4().hex[:8]}"
    created = [
        await admin.create_user(
            {"email": new_email(tag), "password": PASSWORD, "email_confirm": True, "user_metadata": {"k": i}}
        )
        for i in range(3)
    ]
    assert all(c.user.email_confirmed_at is not None for c in created)
    with pytest.raises(AuthApiError) as duplicate:
        await admin.create_user({"email": created[0].user.email or "", "password": PASSWORD})
    assert (duplicate.value.status, duplicate.value.code) == (422, "email_exists")

    assert len(await admin.list_users(page=1, per_page=2)) == 2
    headers = {**bearer(stack.service_role_key), "apikey": stack.service_role_key}
    tagged = await http.get("/admin/users", params={"filter": tag, "per_page": "2"}, headers=headers)
    assert [u["id"] for u in tagged.json()["users"]] == [created[2].user.id, created[1].user.id]  # newest first
    assert tagged.headers["X-Total-Count"] == "3"

    total = await db.fetchval("select count(*) from auth.users where aud = 'authenticated'")
    page = await http.get("/admin/users", params={"page": "", "per_page": ""}, headers=headers)
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == str(total)
    last = -(-total // 50)
    expected = f'</admin/users?page={last}&per_page=>; rel="last"'
    assert page.headers["Link"] == (
        f'</admin/users?page=2&per_page=>; rel="next", {expected}' if last > 1 else expected
    )
    paged = await http.get("/admin/users", params={"page": "2", "per_page": "1"}, headers=headers)
    assert paged.headers["Link"] == (
        f'</admin/users?page=3&per_page=1>; rel="next", </admin/users?page={total}&per_page=1>; rel="last"'
    )
    assert len(paged.json()["users"]) == 1 and paged.json()["aud"] == "authenticated"

    target = created[0].user
    fetched = await admin.get_user_by_id(target.id)
    assert fetched.user.user_metadata["k"] == 0
    changed = await admin.update_user_by_id(target.id, {"user_metadata": {"k": None, "plan": "pro"}})
    assert changed.user.user_metadata == {"plan": "pro", "email_verified": True}
    await admin.delete_user(target.id)
    with pytest.raises(AuthApiError) as missing:
        await admin.get_user_by_id(target.id)
    assert (missing.value.status, missing.value.code) == (404, "user_not_found")


async def test_deleted_user_token_is_refused(stack: Stack, make_client: ClientFactory, http: httpx.AsyncClient) -> None:
    hard, soft = await sign_up(http, new_email()), await sign_up(http, new_email())
    admin = (await make_client(stack.service_role_key)).auth.admin
    await admin.delete_user(hard["user"]["id"])
    assert_error(await http.get("/user", headers=bearer(hard["access_token"])), 403, "user_not_found")

    await admin.delete_user(soft["user"]["id"], should_soft_delete=True)
    kept = await admin.get_user_by_id(soft["user"]["id"])
    assert kept.user.deleted_at is not None and kept.user.email != soft["user"]["email"]
    assert_error(await http.get("/user", headers=bearer(soft["access_token"])), 403, "session_not_found")
    signed_in = await http.post(
        "/token", params={"grant_type": "password"}, json={"email": soft["user"]["email"], "password": PASSWORD}
    )
    assert_error(signed_in, 400, "invalid_credentials")


async def test_banned_user_cannot_sign_in_or_refresh(stack: Stack, http: httpx.AsyncClient) -> None:
    email = new_email()
    session = await sign_up(http, email)
    admin, user_url = bearer(stack.service_role_key), f"/admin/users/{session['user']['id']}"
    banned = await http.put(user_url, json={"ban_duration": "24h"}, headers=admin)
    assert banned.status_code == 200 and "banned_until" in banned.json()
    credentials = {"email": email, "password": PASSWORD}
    assert_error(await http.post("/token", params={"grant_type": "password"}, json=credentials), 400, "user_banned")
    assert_error(await refresh(http, session["refresh_token"]), 400, "user_banned")
    assert_error(await http.put(user_url, json={"ban_duration": "forever"}, headers=admin), 400, "validation_failed")
    assert (await http.put(user_url, json={"ban_duration": "none"}, headers=admin)).status_code == 200
    assert (await http.post("/token", params={"grant_type": "password"}, json=credentials)).status_code == 200


# --- refresh-token rotation --------------------------------------------------------------------------------


async def test_reusing_the_parent_of_the_active_token_returns_the_active_token(http: httpx.AsyncClient) -> None:
    first = (await sign_up(http, new_email()))["refresh_token"]
    second = (await refresh(http, first)).json()["refresh_token"]
    again = await refresh(http, first)  # the client lost the previous response
    assert again.status_code == 200 and again.json()["refresh_token"] == second


async def test_concurrent_refreshes_agree_on_one_child(http: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    first = (await sign_up(http, new_email()))["refresh_token"]
    responses = await asyncio.gather(*(refresh(http, first) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.json()["refresh_token"] for r in responses}) == 1
    children = await db.fetchval("select count(*) from auth.refresh_tokens where parent = $1", first)
    assert children == 1


async def test_reuse_outside_the_interval_revokes_the_session(http: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    session = await sign_up(http, new_email())
    first = session["refresh_token"]
    second = (await refresh(http, first)).json()["refresh_token"]
    third = (await refresh(http, second)).json()["refresh_token"]
    # `first` was revoked long ago (as far as the server can tell) and is not the parent of the active token.
    await db.execute("update auth.refresh_tokens set updated_at = now() - interval '1 minute' where token = $1", first)
    assert_error(await refresh(http, first), 400, "refresh_token_already_used")
    live = await db.fetchval(
        "select count(*) from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id"
        " where s.user_id = $1 and not t.revoked",
        uuid.UUID(session["user"]["id"]),
    )
    assert live == 0
    assert_error(await refresh(http, third), 400, "refresh_token_already_used")


async def test_unknown_and_missing_refresh_tokens(http: httpx.AsyncClient) -> None:
    assert_error(await refresh(http, "zzzzzzzzzzzz"), 400, "refresh_token_not_found")
    missing = await http.post("/token", params={"grant_type": "refresh_token"}, json={})
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": "refresh_token required"}


# --- bearer tokens --------------------------------------------------------------------------------------------


async def test_user_endpoints_check_the_bearer_token(stack: Stack, http: httpx.AsyncClient) -> None:
    session = await sign_up(http, new_email())
    claims = claims_of(session["access_token"], stack)
    expired = jwt.encode({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}, stack.jwt_secret)
    forged = jwt.encode(claims, "another-secret-that-is-at-least-32-characters")

    assert_error(await http.get("/user"), 401, "no_authorization")
    assert_error(await http.get("/user", headers=bearer(expired)), 403, "bad_jwt")
    assert_error(await http.get("/user", headers=bearer(forged)), 403, "bad_jwt")
    assert_error(await http.get("/user", headers=bearer(stack.anon_key)), 403, "bad_jwt")
    assert_error(await http.post("/logout"), 401, "no_authorization")
    assert_error(
        await http.post("/logout", params={"scope": "nowhere"}, headers=bearer(session["access_token"])),
        400,
        "validation_failed",
    )
    ok = await http.get("/user", headers=bearer(session["access_token"]))
    assert ok.status_code == 200 and ok.json()["id"] == claims["sub"]


async def test_signup_and_token_ignore_the_authorization_header(http: httpx.AsyncClient) -> None:
    email = new_email()
    session = await sign_up(http, email)
    headers = bearer("not-a-jwt-at-all")
    response = await http.post(
        "/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200
    refreshed = await http.post(
        "/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": session["refresh_token"]},
        headers=headers,
    )
    assert refreshed.status_code == 200


async def test_admin_requires_an_admin_role(stack: Stack, http: httpx.AsyncClient) -> None:
    session = await sign_up(http, new_email())
    assert_error(await http.get("/admin/users"), 401, "no_authorization")
    assert_error(await http.get("/admin/users", headers=bearer(stack.anon_key)), 403, "not_admin")
    assert_error(await http.get("/admin/users", headers=bearer(session["access_token"])), 403, "not_admin")
    admin = bearer(stack.service_role_key)
    assert_error(await http.get("/admin/users/not-a-uuid", headers=admin), 404, "validation_failed")
    assert_error(await http.get(f"/admin/users/{uuid.uuid4()}", headers=admin), 404, "user_not_found")
    assert_error(await http.get("/admin/users", params={"page": "x"}, headers=admin), 400, "validation_failed")


async def test_logout_scopes(http: httpx.AsyncClient) -> None:
    email = new_email()
    first = await sign_up(http, email)
    second = (
        await http.post("/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD})
    ).json()
    third = (
        await http.post("/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD})
    ).json()
    out = await http.post("/logout", params={"scope": "others"}, headers=bearer(third["access_token"]))
    assert out.status_code == 204 and out.content == b""
    assert_error(await http.get("/user", headers=bearer(first["access_token"])), 403, "session_not_found")
    assert_error(await http.get("/user", headers=bearer(second["access_token"])), 403, "session_not_found")
    assert (await http.get("/user", headers=bearer(third["access_token"]))).status_code == 200
    assert (
        await http.post("/logout", params={"scope": "local"}, headers=bearer(third["access_token"]))
    ).status_code == 204
    assert_error(await refresh(http, third["refresh_token"]), 400, "refresh_token_not_found")


# --- bad input ------------------------------------------------------------------------------------------------


async def test_bad_request_bodies_are_4xx(stack: Stack, http: httpx.AsyncClient) -> None:
    raw = {"Content-Type": "application/json"}
    assert_error(await http.post("/signup", content=b"{not json", headers=raw), 400, "bad_json")
    assert_error(await http.post("/signup", content=b"[1, 2]", headers=raw), 400, "bad_json")
    assert_error(await http.post("/signup", content=b"", headers=raw), 400, "bad_json")
    assert_error(await http.post("/signup", json={"email": 5, "password": PASSWORD}), 400, "bad_json")
    assert_error(await http.post("/signup", json={"email": new_email()}), 400, "validation_failed")
    assert_error(await http.post("/signup", json={"password": PASSWORD}), 422, "anonymous_provider_disabled")
    assert_error(
        await http.post("/signup", json={"email": new_email(), "password": "x" * 73}), 400, "validation_failed"
    )
    challenge = {"email": new_email(), "password": PASSWORD, "code_challenge": "short", "code_challenge_method": "s256"}
    assert_error(await http.post("/signup", json=challenge), 400, "validation_failed")
    assert_error(await http.post("/token", params={"grant_type": "magic"}, json={}), 400, "invalid_credentials")
    assert_error(await http.post("/token", params={"grant_type": "password"}, json={}), 400, "validation_failed")
    huge = b'{"email": "' + b"a" * 1_100_000 + b'"}'
    too_big = await http.post("/signup", content=huge, headers=raw)
    assert too_big.status_code == 413
    session = await sign_up(http, new_email())
    user = bearer(session["access_token"])
    assert_error(await http.put("/user", json={"password": "123"}, headers=user), 422, "weak_password")
    assert_error(await http.put("/user", json={"password": PASSWORD}, headers=user), 422, "same_password")
    assert_error(await http.put("/user", json={"app_metadata": {"role": "x"}}, headers=user), 403, "not_admin")
    assert_error(await http.put("/user", json={"data": "nope"}, headers=user), 400, "bad_json")


async def test_initial_api_version_gets_the_old_error_shape(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/token",
        params={"grant_type": "password"},
        json={"email": new_email(), "password": PASSWORD},
        headers={"X-Supabase-Api-Version": ""},
    )
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
    weak = await http.post(
        "/signup", json={"email": new_email(), "password": "123"}, headers={"X-Supabase-Api-Version": ""}
    )
    assert weak.json() == {
        "code": 422,
        "error_code": "weak_password",
        "msg": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }


async def test_password_change_ends_other_sessions(http: httpx.AsyncClient) -> None:
    email = new_email()
    first = await sign_up(http, email)
    second = (
        await http.post("/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD})
    ).json()
    changed = await http.put("/user", json={"password": "a-new-password"}, headers=bearer(second["access_token"]))
    assert changed.status_code == 200
    assert_error(await http.get("/user", headers=bearer(first["access_token"])), 403, "session_not_found")
    old = await http.post("/token", params={"grant_type": "password"}, json={"email": email, "password": PASSWORD})
    assert_error(old, 400, "invalid_credentials")
    new = await http.post(
        "/token", params={"grant_type": "password"}, json={"email": email, "password": "a-new-password"}
    )
    assert new.status_code == 200


async def test_pkce_grant_exchanges_a_flow_state(http: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    session = await sign_up(http, new_email())
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    auth_code = str(uuid.uuid4())
    await db.execute(
        """
        insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                                     authentication_method, created_at, updated_at)
        values (gen_random_uuid(), $1, $2, 's256', $3, 'email', 'magiclink', now(), now())
        """,
        uuid.UUID(session["user"]["id"]),
        auth_code,
        challenge,
    )
    pkce = {"grant_type": "pkce"}
    assert_error(
        await http.post("/token", params=pkce, json={"auth_code": auth_code, "code_verifier": "x" * 43}),
        400,
        "bad_code_verifier",
    )
    exchanged = await http.post("/token", params=pkce, json={"auth_code": auth_code, "code_verifier": verifier})
    assert exchanged.status_code == 200 and exchanged.json()["user"]["id"] == session["user"]["id"]
    assert_error(
        await http.post("/token", params=pkce, json={"auth_code": auth_code, "code_verifier": verifier}),
        404,
        "flow_state_not_found",
    )


async def test_settings_and_health(http: httpx.AsyncClient) -> None:
    settings = await http.get("/settings")
    assert settings.status_code == 200
    assert settings.json()["external"]["email"] is True and settings.json()["mailer_autoconfirm"] is True
    health = await http.get("/health")
    assert health.status_code == 200 and health.json()["name"] == "GoTrue"


async def test_email_change_is_pending_and_admin_changes_it_directly(stack: Stack, http: httpx.AsyncClient) -> None:
    session = await sign_up(http, new_email())
    wanted = new_email("changed")
    pending = await http.put("/user", json={"email": wanted.upper()}, headers=bearer(session["access_token"]))
    assert pending.status_code == 200
    assert pending.json()["new_email"] == wanted and pending.json()["email"] == session["user"]["email"]
    taken = await http.put("/user", json={"email": session["user"]["email"]}, headers=bearer(session["access_token"]))
    assert taken.status_code == 200  # unchanged address: nothing to do
    other = await sign_up(http, new_email())
    clash = await http.put("/user", json={"email": other["user"]["email"]}, headers=bearer(session["access_token"]))
    assert_error(clash, 422, "email_exists")

    admin = bearer(stack.service_role_key)
    moved = await http.put(f"/admin/users/{session['user']['id']}", json={"email": wanted}, headers=admin)
    assert moved.status_code == 200 and moved.json()["email"] == wanted
    assert moved.json()["identities"][0]["identity_data"]["email"] == wanted
    signed_in = await http.post(
        "/token", params={"grant_type": "password"}, json={"email": wanted, "password": PASSWORD}
    )
    assert signed_in.status_code == 200


async def test_failing_auth_users_trigger_is_gotrue_500(
    stack: Stack, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A broken `on auth.users insert` trigger (profile creation) gives GoTrue's message, not a crash."""
    await db.execute(
        """
        create function public.reject_doomed_signups() returns trigger language plpgsql as $$
        begin
          if new.email like 'doomed-%' then raise exception 'profile table is missing'; end if;
          return new;
        end $$;
        create trigger reject_doomed_signups before insert on auth.users
          for each row execute function public.reject_doomed_signups();
        """
    )
    try:
        response = await http.post("/signup", json={"email": new_email("doomed"), "password": PASSWORD})
        assert_error(response, 500, "unexpected_failure")
        assert response.json()["message"] == "Database error saving new user"
        assert (await http.post("/signup", json={"email": new_email(), "password": PASSWORD})).status_code == 200
    finally:
        await db.execute(
            "drop trigger reject_doomed_signups on auth.users; drop function public.reject_doomed_signups()"
        )


async def test_concurrent_sign_ups_of_one_email_create_one_user(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    email = new_email()
    responses = await asyncio.gather(
        *(http.post("/signup", json={"email": email, "password": PASSWORD}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 422, 422, 422]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"user_already_exists"}
    assert await db.fetchval("select count(*) from auth.users where email = $1", email) == 1
