"""Overloaded functions and unnamed parameters over /rpc, resolved as PostgREST resolves them."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack


def test_overloads_are_chosen_by_argument_names(anon: Client) -> None:
    assert anon.rpc("overloaded", {}).execute().data == 1
    assert anon.rpc("overloaded", {"a": 2}).execute().data == 20
    assert anon.rpc("overloaded", {"a": 2, "b": 3}).execute().data == 23
    assert anon.rpc("overloaded", {"a": 4}, get=True).execute().data == 40
    assert anon.rpc("overloaded_names", {"a": "x"}).execute().data == "text x"
    assert anon.rpc("overloaded_names", {"b": 7}, get=True).execute().data == "int 7"


def test_same_names_of_other_types_are_300_pgrst203(rest: RestStack) -> None:
    response = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/ambiguous", json={"a": "1"}, headers={"apikey": SETTINGS.anon_key}
    )
    assert response.status_code == 300
    assert response.json()["code"] == "PGRST203"
    assert response.json()["message"] == (
        "Could not choose the best candidate function between:"
        " public.ambiguous(a => integer), public.ambiguous(a => text)"
    )


def test_a_single_unnamed_parameter_takes_the_whole_body(rest: RestStack, anon: Client) -> None:
    assert anon.rpc("unnamed_json", {"x": [1, 2]}).execute().data == {"got": {"x": [1, 2]}}
    headers = {"apikey": SETTINGS.anon_key}
    text = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/unnamed_text",
        content="plain words",
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert (text.status_code, text.json()) == (200, "got plain words")
    raw = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/unnamed_bytes",
        content=bytes(range(7)),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert (raw.status_code, raw.json()) == (200, 7)


def test_other_unnamed_parameters_are_not_callable(rest: RestStack) -> None:
    response = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/unnamed_int", json={"": 1}, headers={"apikey": SETTINGS.anon_key}
    )
    assert (response.status_code, response.json()["code"]) == (404, "PGRST202")
    assert response.json()["message"] == "Could not find the function public.unnamed_int() in the schema cache"


def test_unnamed_defaults_as_postgrest_resolves_them(rest: RestStack, anon: Client) -> None:
    with pytest.raises(APIError) as err:
        anon.rpc("unnamed_default", {}).execute()
    assert err.value.code == "PGRST203"
    # The int overload is not callable (unnamed, not a body type): the other two are the candidates.
    assert err.value.message == (
        "Could not choose the best candidate function between: public.unnamed_default(),"
        " public.unnamed_default( => text)"
    )
    response = httpx.post(
        f"{rest.api_url}/rest/v1/rpc/unnamed_default", json={"": "y"}, headers={"apikey": SETTINGS.anon_key}
    )
    assert response.status_code == 200 and response.json().startswith("text ")


def test_computed_fields_are_not_rpc_targets(rest: RestStack) -> None:
    response = httpx.post(f"{rest.api_url}/rest/v1/rpc/shout", json={}, headers={"apikey": SETTINGS.anon_key})
    assert (response.status_code, response.json()["code"]) == (404, "PGRST202")
