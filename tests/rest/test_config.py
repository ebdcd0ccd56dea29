"""PostgREST's in-database configuration and role settings, as Supabase uses them.

`postgres` enables aggregates and `explain` with `alter role authenticator … set pgrst.…` and
`notify pgrst, 'reload config'` (here for this test database only, so other gateways on the cluster are
unaffected); requests as a role get that role's settings (`statement_timeout`); `Prefer: handling=strict,
max-affected=N` refuses writes touching more rows.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from devstack import tokens
from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack, User
from tests.waiting import poll


def test_aggregates_are_off_until_enabled(rest: RestStack) -> None:
    response = httpx.get(f"{rest.api_url}/rest/v1/todos?select=id.sum()", headers={"apikey": SETTINGS.anon_key})
    assert response.status_code == 400
    assert response.json() == {
        "code": "PGRST123",
        "details": None,
        "hint": None,
        "message": "Use of aggregate functions is not allowed",
    }
    plan = httpx.get(
        f"{rest.api_url}/rest/v1/todos", headers={"apikey": SETTINGS.anon_key, "Accept": "application/vnd.pgrst.plan"}
    )
    assert (plan.status_code, plan.json()["code"]) == (406, "PGRST107")


@pytest.mark.usefixtures("features")
def test_aggregates_when_enabled(anon: Client) -> None:
    total = anon.table("todos").select("count(), n.sum(), n.max()::text").lte("id", 5).execute().data
    assert total == [{"count": 5, "sum": 11, "max": "5"}]
    grouped = anon.table("todos").select("done, c:count()").lte("id", 5).order("done").execute().data
    assert grouped == [{"done": False, "c": 3}, {"done": True, "c": 2}]
    per_author = anon.table("authors").select("name, todos!author_id(n.sum(), count())").order("id").execute().data
    assert per_author[0] == {"name": "Ana", "todos": [{"sum": 3, "count": 2}]}
    spread = anon.table("products").select("name, ...categories(count())").eq("id", 2).execute().data
    assert spread == [{"name": "mug", "count": 2}]


@pytest.mark.usefixtures("features")
def test_explain_when_enabled(rest: RestStack, anon: Client) -> None:
    text = anon.table("todos").select("id").eq("id", 1).explain().execute()
    assert isinstance(text, str) and "Scan" in text  # supabase-py hands the text plan back as it is
    headers = {"apikey": SETTINGS.anon_key, "Accept": 'application/vnd.pgrst.plan+json; for="application/json"'}
    response = httpx.get(f"{rest.api_url}/rest/v1/todos?select=id&id=eq.1", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == 'application/vnd.pgrst.plan+json; for="application/json"; charset=utf-8'
    assert "Plan" in response.json()[0]
    analyzed = anon.table("todos").select("id").eq("id", 1).explain(analyze=True, format="json").execute()
    assert "Actual Rows" in json.dumps(analyzed.data)


def test_postgres_may_change_the_api_roles_settings(rest: RestStack) -> None:
    """As on Supabase (supautils): `postgres` alters authenticator's `pgrst.*` and the API roles' settings."""
    database = rest.sql("select current_database()")[0][0]
    rest.sql_as_postgres(f"alter role authenticator in database \"{database}\" set pgrst.db_max_rows = '2'")
    rest.sql_as_postgres(f"alter role anon in database \"{database}\" set statement_timeout = '3s'")
    rest.sql_as_postgres(f'alter role anon in database "{database}" reset statement_timeout')
    url = f"{rest.api_url}/rest/v1/todos?select=id&id=lte.5"
    try:
        rest.sql_as_postgres("notify pgrst, 'reload config'")
        poll(lambda: len(httpx.get(url, headers={"apikey": SETTINGS.anon_key}).json()) == 2, "max rows unchanged")
    finally:
        rest.sql_as_postgres(f'alter role authenticator in database "{database}" reset pgrst.db_max_rows')
        rest.sql_as_postgres("notify pgrst, 'reload config'")
        poll(lambda: len(httpx.get(url, headers={"apikey": SETTINGS.anon_key}).json()) == 5, "max rows stuck")


def test_requests_run_with_their_roles_settings(rest: RestStack, alice: User) -> None:
    anon = httpx.post(f"{rest.api_url}/rest/v1/rpc/settings", json={}, headers={"apikey": SETTINGS.anon_key}).json()
    assert anon == {"statement_timeout": "3s", "role": "anon"}
    signed_in = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}"}
    user = httpx.post(f"{rest.api_url}/rest/v1/rpc/settings", json={}, headers=signed_in).json()
    assert user == {"statement_timeout": "8s", "role": "authenticated"}
    service = {"apikey": SETTINGS.service_role_key, "Authorization": f"Bearer {SETTINGS.service_role_key}"}
    worker = httpx.post(f"{rest.api_url}/rest/v1/rpc/settings", json={}, headers=service).json()
    assert worker == {"statement_timeout": "8s", "role": "service_role"}  # authenticator's own, as on Supabase


def test_the_statement_timeout_fires(rest: RestStack) -> None:
    claims = {"role": "rest_probe", "exp": tokens.now() + 60}
    token = tokens.encode(claims, SETTINGS.jwt_secret.get_secret_value())
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {token}"}
    response = httpx.post(f"{rest.api_url}/rest/v1/rpc/nap", json={"seconds": 5}, headers=headers, timeout=10)
    assert response.status_code == 500
    assert response.json()["code"] == "57014"
    assert response.json()["message"] == "canceling statement due to statement timeout"


def test_max_affected_with_strict_handling(rest: RestStack, alice: User, signed_in: Client) -> None:
    prefix = f"max-affected {uuid.uuid4().hex[:6]}"
    signed_in.table("todos").insert([{"title": f"{prefix} {i}"} for i in range(3)]).execute()
    too_many = signed_in.table("todos").update({"n": 9}).like("title", f"{prefix}%").max_affected(2)
    with pytest.raises(APIError) as err:
        too_many.execute()
    assert (err.value.code, err.value.message, err.value.details) == (
        "PGRST124",
        "Query result exceeds max-affected preference constraint",
        "The query affects 3 rows",
    )
    assert rest.sql("select count(*) from public.todos where title like $1 and n = 9", f"{prefix}%")[0][0] == 0
    done = signed_in.table("todos").update({"n": 9}).like("title", f"{prefix}%").max_affected(3).execute()
    assert len(done.data) == 3
    lenient = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}", "Prefer": "max-affected=1"}
    ignored = httpx.delete(f"{rest.api_url}/rest/v1/todos?title=like.{prefix}*", headers=lenient)
    assert ignored.status_code == 204  # without handling=strict, as PostgREST: ignored, not echoed
    assert "preference-applied" not in ignored.headers
    strict = {**lenient, "Prefer": "handling=strict, bogus"}
    invalid = httpx.get(f"{rest.api_url}/rest/v1/todos?select=id&limit=1", headers=strict)
    assert (invalid.status_code, invalid.json()["code"]) == (400, "PGRST122")


def test_max_affected_on_rpc_needs_a_set(rest: RestStack, alice: User) -> None:
    headers = {
        "apikey": SETTINGS.anon_key,
        "Authorization": f"Bearer {alice.token}",
        "Prefer": "handling=strict, max-affected=1",
    }
    scalar = httpx.post(f"{rest.api_url}/rest/v1/rpc/one_done", json={}, headers=headers)
    assert (scalar.status_code, scalar.json()["code"]) == (400, "PGRST128")
    none = httpx.post(f"{rest.api_url}/rest/v1/rpc/set_done", json={"after_id": 1_000_000_000}, headers=headers)
    assert none.status_code == 200 and none.json() == []
