"""Auth answers bad input with GoTrue's 400 bad_json, never a 500: JSON nested 5,000 deep, and U+0000 in
metadata or a password (Postgres text and jsonb cannot hold it). Storage answers the same input with its
400 InvalidRequest (its own validation first: a bad bucket name is still InvalidBucketName)."""

from __future__ import annotations

import base64
import uuid

import httpx

from tests.conftest import Stack
from tests.test_auth import API_VERSION, PASSWORD, assert_error, bearer, http, new_email, sign_up

__all__ = ["http"]  # the raw /auth/v1 client fixture of tests/test_auth.py

DEEP = b"[" * 5000 + b"]" * 5000


async def test_deep_json_is_bad_json_on_every_endpoint(stack: Stack, http: httpx.AsyncClient) -> None:
    raw = {"Content-Type": "application/json"}
    body = b'{"email": "a@example.com", "password": "x", "data": ' + DEEP + b"}"
    assert_error(await http.post("/signup", content=body, headers=raw), 400, "bad_json")
    assert_error(
        await http.post("/token", params={"grant_type": "password"}, content=body, headers=raw), 400, "bad_json"
    )
    session = await sign_up(http, new_email())
    user = {**raw, **bearer(session["access_token"])}
    assert_error(await http.put("/user", content=b'{"data": ' + DEEP + b"}", headers=user), 400, "bad_json")
    admin = {**raw, "apikey": stack.service_role_key, **bearer(stack.service_role_key), **API_VERSION}
    created = await http.post("/admin/users", content=b'{"user_metadata": ' + DEEP + b"}", headers=admin)
    assert_error(created, 400, "bad_json")


async def test_nul_in_metadata_and_passwords_is_bad_json(stack: Stack, http: httpx.AsyncClient) -> None:
    signup = {"email": new_email(), "password": PASSWORD, "data": {"name": "a\u0000b"}}
    assert_error(await http.post("/signup", json=signup), 400, "bad_json")
    assert_error(await http.post("/signup", json={"email": new_email(), "password": "pass\u0000word"}), 400, "bad_json")
    session = await sign_up(http, new_email())
    user = bearer(session["access_token"])
    assert_error(await http.put("/user", json={"data": {"k\u0000": 1}}, headers=user), 400, "bad_json")
    admin = {"apikey": stack.service_role_key, **bearer(stack.service_role_key)}
    body = {"email": new_email(), "user_metadata": {"bio": ["ok", "\u0000"]}}
    assert_error(await http.post("/admin/users", json=body, headers=admin), 400, "bad_json")
    # The account is unharmed: its metadata can still be updated with ordinary text.
    ok = await http.put("/user", json={"data": {"name": "ab"}}, headers=user)
    assert ok.status_code == 200 and ok.json()["user_metadata"]["name"] == "ab"


async def test_storage_refuses_deep_json_and_nul_with_400(stack: Stack) -> None:
    service = {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"}
    raw = {**service, "Content-Type": "application/json"}
    bucket = f"bad-input-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=f"{stack.api_url}/storage/v1", timeout=10) as storage:
        assert (await storage.post("/bucket", json={"name": bucket, "id": bucket}, headers=service)).status_code == 200
        deep_cases = [
            ("/bucket", b'{"name": "deep", "x": ' + DEEP + b"}"),
            (f"/object/list/{bucket}", b'{"prefix": "", "x": ' + DEEP + b"}"),
            (f"/object/sign/{bucket}", b'{"expiresIn": 60, "paths": ' + DEEP + b"}"),
        ]
        for path, body in deep_cases:
            response = await storage.post(path, content=body, headers=raw)
            assert (response.status_code, response.json()["code"]) == (400, "InvalidRequest"), path
        nul_cases = [
            (f"/object/list/{bucket}", {"prefix": "a\u0000"}),
            (f"/object/sign/{bucket}", {"expiresIn": 60, "paths": ["a\u0000"]}),
            ("/bucket", {"name": f"{bucket}-2", "allowed_mime_types": ["text/\u0000"]}),
        ]
        for path, payload in nul_cases:
            response = await storage.post(path, json=payload, headers=service)
            assert (response.status_code, response.json()["code"]) == (400, "InvalidRequest"), path
        named = await storage.post("/bucket", json={"name": "a\u0000b"}, headers=service)
        assert (named.status_code, named.json()["code"]) == (400, "InvalidBucketName")
        for metadata in (b'{"a": ' + DEEP + b"}", b'{"a": "\\u0000"}'):
            upload = await storage.post(
                f"/object/{bucket}/note.txt",
                content=b"hi",
                headers={**service, "Content-Type": "text/plain", "x-metadata": base64.b64encode(metadata).decode()},
            )
            assert (upload.status_code, upload.json()["code"]) == (400, "InvalidRequest")
