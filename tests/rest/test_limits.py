"""Requests that ask too much get a 4xx, never a 500 or exhausted Postgres: nested embeds past the JSON
budget, select lists longer than Postgres allows, JSON nested too deep, NUL where Postgres takes no NUL."""

from __future__ import annotations

import httpx
import pytest

from devstack.jsonlimits import MAX_DEPTH
from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack, User

ANON = {"apikey": SETTINGS.anon_key}


def test_nested_embeds_stop_at_the_json_budget(rest: RestStack) -> None:
    # 40 x 40 x 40 x 40 rows of embedded JSON (hundreds of MB): refused once 1 MiB is built (this fixture's
    # budget), long before anon's 3 s statement timeout.
    select = "id,fan_right(id,fan_left(id,fan_right(id)))"
    response = httpx.get(f"{rest.api_url}/rest/v1/fan_left", params={"select": select}, headers=ANON, timeout=30)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "54000" and "1048576 bytes" in body["message"]
    small = httpx.get(
        f"{rest.api_url}/rest/v1/fan_left", params={"select": "id,fan_right(id)", "id": "eq.1"}, headers=ANON
    )
    assert small.status_code == 200 and len(small.json()[0]["fan_right"]) == 40


def test_embeds_are_capped_at_max_rows(rest: RestStack) -> None:
    headers = {**ANON}
    rows = httpx.get(
        f"{rest.api_url}/rest/v1/fan_left",
        params={"select": "id,fan_right(id)", "id": "eq.1", "fan_right.limit": "5000"},
        headers=headers,
    ).json()
    assert len(rows[0]["fan_right"]) == 40  # all there is, under the 1,000 cap


def test_two_thousand_columns_is_a_400(rest: RestStack) -> None:
    response = httpx.get(f"{rest.api_url}/rest/v1/todos", params={"select": ",".join(["id"] * 2000)}, headers=ANON)
    assert response.status_code == 400
    assert response.json()["code"] == "54011"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_json_bodies_are_400(rest: RestStack, alice: User, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    signed_in = {**ANON, "Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    for path in ("todos", "rpc/echo"):
        response = httpx.post(
            f"{rest.api_url}/rest/v1/{path}", content=b'{"payload": ' + deep + b"}", headers=signed_in
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "PGRST102"
    patched = httpx.patch(
        f"{rest.api_url}/rest/v1/todos?id=eq.-1", content=b'{"data": ' + deep + b"}", headers=signed_in
    )
    assert patched.status_code == 400


def test_json_as_deep_as_allowed_is_accepted(rest: RestStack) -> None:
    nested = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    response = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/echo",
        content=b'{"payload": ' + nested + b"}",
        headers={**ANON, "Content-Type": "application/json"},
    )
    assert response.status_code == 200


def test_nul_in_json_strings_and_query_values_is_400(rest: RestStack, alice: User) -> None:
    signed_in = {**ANON, "Authorization": f"Bearer {alice.token}"}
    response = httpx.post(f"{rest.api_url}/rest/v1/todos", json={"title": "a\u0000b"}, headers=signed_in)
    assert response.status_code == 400
    for params in ({"title": "eq.a\x00b"}, {"select": "id,ti\x00tle"}, {"or": "(title.eq.\x00)"}):
        response = httpx.get(f"{rest.api_url}/rest/v1/todos", params=params, headers=ANON)
        assert 400 <= response.status_code < 500, (params, response.text)
