"""A gateway run with a project config that turns on anonymous sign-ins and TOTP MFA, with Auth's rate
limits on: anonymous users, an `aal2` session, and the 31st sign-in attempt in the window refused (429)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError

from devstack.project import Project
from devstack.settings import REPO_ROOT
from tests.conftest import SETTINGS, gateway_process

PASSWORD = "correct-horse-1"
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}
CONFIG = """
[auth]
site_url = "http://127.0.0.1:3000"
enable_anonymous_sign_ins = true

[auth.mfa.totp]
enroll_enabled = true
verify_enabled = true

[auth.rate_limit]
sign_in_sign_ups = 30
anonymous_users = 30
"""


@pytest.fixture(scope="module")
def gateway(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("project")
    (project / "config.toml").write_text(CONFIG)
    (project / "migrations").symlink_to(REPO_ROOT / "supabase" / "migrations")
    log = tmp_path_factory.mktemp("limits-gateway") / "gateway.log"
    env = {"DEVSTACK_SUPABASE_DIR": str(project), "DEVSTACK_AUTH_RATE_LIMITS": "true"}
    with gateway_process(database, log, env) as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as pool:
        options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool)
        yield await acreate_client(gateway, SETTINGS.anon_key, options=options)


async def test_anonymous_sign_in(client: AsyncClient) -> None:
    signed_in = await client.auth.sign_in_anonymously({"options": {"data": {"nickname": "guest"}}})
    assert signed_in.user is not None and signed_in.session is not None
    assert signed_in.user.is_anonymous and signed_in.user.email in ("", None)
    assert signed_in.user.user_metadata["nickname"] == "guest"
    assert signed_in.user.app_metadata["provider"] == "anonymous"
    user = (await client.auth.get_user()).user
    assert user is not None and user.id == signed_in.user.id and user.is_anonymous


async def test_totp_enrolment_gives_an_aal2_session(client: AsyncClient) -> None:
    email = f"mfa-{uuid.uuid4().hex[:12]}@example.com"
    await client.auth.sign_up({"email": email, "password": PASSWORD})
    enrolled = await client.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    assert enrolled.totp is not None and enrolled.totp.qr_code.startswith("data:image/svg+xml")
    assert enrolled.totp.uri.startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrolled.totp.secret)
    challenge = await client.auth.mfa.challenge({"factor_id": enrolled.id})
    with pytest.raises(AuthApiError) as wrong:
        await client.auth.mfa.verify(
            {
                "factor_id": enrolled.id,
                "challenge_id": challenge.id,
                "code": "000000" if totp.now() != "000000" else "1",
            }
        )
    assert (wrong.value.status, wrong.value.code) == (422, "mfa_verification_failed")
    verified = await client.auth.mfa.verify(
        {"factor_id": enrolled.id, "challenge_id": challenge.id, "code": totp.now()}
    )
    assert verified.access_token
    level = await client.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    assert [m.method for m in level.current_authentication_methods][:1] == ["totp"]
    factors = await client.auth.mfa.list_factors()
    assert [f.id for f in factors.totp] == [enrolled.id]
    assert (await client.auth.mfa.unenroll({"factor_id": enrolled.id})).id == enrolled.id


async def test_the_31st_sign_in_attempt_in_the_window_is_refused(gateway: str) -> None:
    email = f"limited-{uuid.uuid4().hex[:12]}@example.com"
    ip = f"203.0.113.{uuid.uuid4().int % 250 + 1}"  # one address of its own (the limit is per client IP)
    headers = {"apikey": SETTINGS.anon_key, "X-Forwarded-For": ip, **API_VERSION}
    async with httpx.AsyncClient(base_url=f"{gateway}/auth/v1", headers=headers, timeout=10) as http:
        statuses = []
        for _ in range(31):
            response = await http.post(
                "/token", params={"grant_type": "password"}, json={"email": email, "password": "wrong-password"}
            )
            statuses.append((response.status_code, response.json()["code"]))
        elsewhere = await http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": email, "password": "wrong-password"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
    assert statuses[:30] == [(400, "invalid_credentials")] * 30
    assert statuses[30] == (429, "over_request_rate_limit")
    assert elsewhere.status_code == 400  # another address has its own budget


def test_config_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        CONFIG + '\n[storage]\nfile_size_limit = "5MiB"\n[auth.email]\nmax_frequency = "1m30s"\n'
    )
    project = Project.load(tmp_path / "config.toml")
    assert project.auth.enable_anonymous_sign_ins and project.auth.totp_verify_enabled
    assert project.storage_file_size_limit == 5 * 1024 * 1024 and project.auth.max_frequency == 90.0
    assert Project.load(tmp_path / "missing.toml").auth.enable_anonymous_sign_ins is False
