"""RPC through supabase-py unchanged: POST and GET, scalar, set-returning, composite, void, errors."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack, User


def test_scalar_by_post_and_get(anon: Client) -> None:
    assert anon.rpc("add", {"a": 1, "b": 2}).execute().data == 3
    assert anon.rpc("add", {"a": 5, "b": 6}, get=True).execute().data == 11
    assert anon.rpc("sum_all", {"nums": [1, 2, 3]}).execute().data == 6


def test_set_returning_with_filters_order_and_count(anon: Client) -> None:
    rows = anon.rpc("todos_titled", {"q": "seed"}).select("id").lt("id", 4).order("id", desc=True).execute().data
    assert rows == [{"id": 3}, {"id": 2}, {"id": 1}]
    response = anon.rpc("pairs", {"upto": 4}, count="exact").gt("k", 2).execute()
    assert response.data == [{"k": 3, "v": "v3"}, {"k": 4, "v": "v4"}]
    assert response.count == 2
    assert anon.rpc("numbers", {"upto": 3}).execute().data == [1, 2, 3]


def test_composite_result_is_an_object(anon: Client) -> None:
    assert anon.rpc("first_todo").execute().data["id"] == 1


def test_void_function_answers_204(rest: RestStack) -> None:
    response = httpx.post(f"{rest.api_url}/rest/v1/rpc/noop", json={}, headers={"apikey": SETTINGS.anon_key})
    assert response.status_code == 204 and response.content == b""


def test_single_json_argument_takes_the_body(anon: Client) -> None:
    assert anon.rpc("echo", {"payload": {"a": [1, 2]}}).execute().data == {"a": [1, 2]}


def test_volatile_function_writes(signed_in: Client, rest: RestStack) -> None:
    row = signed_in.rpc("make_item", {"id": 777_777, "name": "from rpc"}).execute().data
    assert row["name"] == "from rpc"
    assert rest.sql("select name from public.items where id = 777777")[0][0] == "from rpc"


def test_request_settings_are_visible_to_sql(rest: RestStack, alice: User) -> None:
    client = rest.client(alice.token)
    seen = client.rpc("whoami", {}).execute().data
    assert seen["role"] == "authenticated" and seen["sub"] == alice.id
    assert seen["method"] == "POST" and seen["path"] == "/rpc/whoami"
    headers = {"apikey": SETTINGS.anon_key, "x-probe": "hello", "Cookie": "theme=dark; sid=abc123"}
    got = httpx.get(f"{rest.api_url}/rest/v1/rpc/whoami", headers=headers).json()
    assert got["role"] == "anon" and got["header"] == "hello" and got["read_only"] == "on"
    assert got["cookie"] == "abc123"


def test_no_setting_carries_over_to_the_next_request(rest: RestStack, alice: User) -> None:
    # Sequential requests share a pooled connection (the pool hands back the one just released): a
    # read-only anonymous request with a header and a cookie, then signed-in requests with neither (one of
    # them a write), alternately, each seeing only its own settings.
    url = f"{rest.api_url}/rest/v1/rpc/whoami"
    signed_in = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}"}
    for n in range(4):
        headers = {"apikey": SETTINGS.anon_key, "x-probe": "anon's", "Cookie": "sid=anon"}
        got = httpx.get(url, headers=headers).json()
        assert (got["role"], got["header"], got["cookie"], got["read_only"]) == ("anon", "anon's", "anon", "on")
        got = httpx.post(url, json={}, headers=signed_in).json()
        assert (got["role"], got["sub"], got["method"], got["header"], got["cookie"]) == (
            "authenticated",
            alice.id,
            "POST",
            None,
            None,
        )
        written = httpx.post(
            f"{rest.api_url}/rest/v1/rpc/make_item", json={"id": 880_000 + n, "name": f"rw {n}"}, headers=signed_in
        )
        assert written.status_code == 200, written.text  # not read-only, as the GET before it was
        assert httpx.get(url, headers={"apikey": SETTINGS.anon_key}).json()["sub"] is None


def test_raise_is_400_with_hint(anon: Client) -> None:
    with pytest.raises(APIError) as err:
        anon.rpc("boom", {}).execute()
    assert (err.value.code, err.value.message, err.value.hint) == ("P0001", "it went boom", "try less")


def test_unknown_function_is_404_pgrst202(rest: RestStack) -> None:
    response = httpx.post(f"{rest.api_url}/rest/v1/rpc/add", json={"x": 1}, headers={"apikey": SETTINGS.anon_key})
    assert response.status_code == 404
    assert response.json()["code"] == "PGRST202"
    assert response.json()["message"] == "Could not find the function public.add(x) in the schema cache"


def test_get_on_volatile_function_is_read_only(rest: RestStack, alice: User) -> None:
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}"}
    response = httpx.get(f"{rest.api_url}/rest/v1/rpc/make_item", params={"id": "5", "name": "x"}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (405, "25006")


def test_rows_of_a_table_type_can_embed(anon: Client) -> None:
    rows = anon.rpc("todos_titled", {"q": "alpha"}).select("id, notes(body), author:authors!author_id(name)").execute()
    assert rows.data[0]["author"] == {"name": "Ana"}
    assert sorted(n["body"] for n in rows.data[0]["notes"]) == ["first", "second"]


@pytest.mark.parametrize(
    "probe",
    [
        "$v$, true); drop table public.items; --",
        "$v",
        "it's $$ quoted \\' $$",
        "$v$$v$'$v1$",
        "\\x00 is not a NUL; \\",
    ],
)
def test_request_settings_reach_sql_verbatim_whatever_they_hold(rest: RestStack, probe: str) -> None:
    # BEGIN and the settings go in one round trip with the values dollar-quoted: nothing in a header or a
    # cookie can end the literal.
    headers = {"apikey": SETTINGS.anon_key, "x-probe": probe, "Cookie": f"sid={probe.replace(';', '')}"}
    got = httpx.get(f"{rest.api_url}/rest/v1/rpc/whoami", headers=headers).json()
    assert got["header"] == probe and got["cookie"] == probe.replace(";", "")
    assert rest.sql("select count(*) as n from public.items")[0]["n"] > 0  # still there
