"""Writes through supabase-py unchanged: insert, bulk insert, upsert both ways, update, delete, Prefer."""

from __future__ import annotations

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack, User


def unique() -> str:
    return uuid.uuid4().hex[:12]


def test_insert_returns_the_row_with_defaults(signed_in: Client) -> None:
    title = unique()
    row = signed_in.table("todos").insert({"title": title, "tags": ["x"], "data": {"a": [1]}}).execute().data[0]
    assert row["title"] == title and row["done"] is False and row["tags"] == ["x"] and row["data"] == {"a": [1]}
    assert row["id"] > 100


def test_bulk_insert_with_missing_default_and_null(signed_in: Client) -> None:
    base = 10_000 + uuid.uuid4().int % 1_000_000
    rows = [{"id": base, "name": unique()}, {"id": base + 1, "name": unique(), "qty": 5}]
    defaulted = signed_in.table("items").insert(rows, default_to_null=False).execute().data
    assert [(r["qty"], r["note"]) for r in defaulted] == [(1, "none"), (5, "none")]
    nulls = [{"id": base + 2, "name": unique(), "qty": 2}, {"id": base + 3, "name": unique(), "qty": 3, "note": None}]
    # Without missing=default a key absent from one row of a bulk insert is null, as in PostgREST.
    assert [r["note"] for r in signed_in.table("items").insert(nulls).execute().data] == [None, None]


def test_insert_returning_minimal(signed_in: Client) -> None:
    response = signed_in.table("items").insert({"id": uuid.uuid4().int % 10**9, "name": unique()}, returning="minimal")
    assert response.execute().data == []


def test_upsert_merge_and_ignore_duplicates(signed_in: Client) -> None:
    item_id = uuid.uuid4().int % 10**9
    signed_in.table("items").insert({"id": item_id, "name": unique(), "qty": 1}).execute()
    merged = signed_in.table("items").upsert({"id": item_id, "name": unique(), "qty": 7}).execute().data
    assert merged[0]["qty"] == 7
    ignored = signed_in.table("items").upsert({"id": item_id, "name": unique(), "qty": 9}, ignore_duplicates=True)
    assert ignored.execute().data == []
    name = unique()
    signed_in.table("items").upsert({"id": item_id + 1, "name": name, "qty": 1}).execute()
    by_name = signed_in.table("items").upsert({"id": item_id + 1, "name": name, "qty": 3}, on_conflict="name")
    assert by_name.execute().data[0]["qty"] == 3


def test_upsert_status_created_then_ok(rest: RestStack, alice: User) -> None:
    headers = {
        "apikey": SETTINGS.anon_key,
        "Authorization": f"Bearer {alice.token}",
        "Prefer": "return=representation,resolution=merge-duplicates",
    }
    body = {"id": uuid.uuid4().int % 10**9, "name": unique()}
    first = httpx.post(f"{rest.api_url}/rest/v1/items?on_conflict=id", json=body, headers=headers)
    again = httpx.post(f"{rest.api_url}/rest/v1/items?on_conflict=id", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)


def test_update_and_delete_with_filters(signed_in: Client) -> None:
    title = unique()
    row = signed_in.table("todos").insert({"title": title, "n": 1}).execute().data[0]
    updated = signed_in.table("todos").update({"n": 42, "done": True}).eq("title", title).execute().data
    assert [(r["id"], r["n"], r["done"]) for r in updated] == [(row["id"], 42, True)]
    assert signed_in.table("todos").update({"n": 1}).eq("title", "no such title").execute().data == []
    deleted = signed_in.table("todos").delete().eq("id", row["id"]).execute().data
    assert [r["id"] for r in deleted] == [row["id"]]
    assert signed_in.table("todos").select("id").eq("id", row["id"]).execute().data == []


def test_insert_with_embed_in_returned_rows(signed_in: Client, rest: RestStack) -> None:
    body = unique()
    note = signed_in.table("notes").insert({"todo_id": 1, "body": body}).select("body, todos(title)").execute()
    assert note.data[0]["todos"] == {"title": "seed alpha"}
    rest.sql("delete from public.notes where body = $1", body)  # the read tests count todo 1's notes


def test_single_on_mutation_rolls_back_when_not_one_row(rest: RestStack, alice: User) -> None:
    title = unique()
    headers = {
        "apikey": SETTINGS.anon_key,
        "Authorization": f"Bearer {alice.token}",
        "Accept": "application/vnd.pgrst.object+json",
        "Prefer": "return=representation",
    }
    body = [{"title": title}, {"title": title}]
    response = httpx.post(f"{rest.api_url}/rest/v1/todos", json=body, headers=headers)
    assert response.status_code == 406 and response.json()["code"] == "PGRST116"
    assert rest.sql("select count(*) from public.todos where title = $1", title)[0][0] == 0


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"id": 1, "name": "dup-a"}, "23505", 409),
        ({"id": -5, "nope": 1}, "PGRST204", 400),
    ],
)
def test_write_errors(rest: RestStack, alice: User, body: dict, code: str, status: int) -> None:  # type: ignore[type-arg]
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}"}
    httpx.post(f"{rest.api_url}/rest/v1/items", json={"id": 1, "name": "dup-a"}, headers=headers)
    response = httpx.post(f"{rest.api_url}/rest/v1/items", json=body, headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_foreign_key_and_not_null_and_bad_json(rest: RestStack, alice: User) -> None:
    headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {alice.token}"}
    url = f"{rest.api_url}/rest/v1/notes"
    fk = httpx.post(url, json={"todo_id": -1, "body": "x"}, headers=headers)
    assert (fk.status_code, fk.json()["code"]) == (409, "23503")
    null = httpx.post(url, json={"todo_id": 1}, headers=headers)
    assert (null.status_code, null.json()["code"]) == (400, "23502")
    bad = httpx.post(url, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert (bad.status_code, bad.json()["code"]) == (400, "PGRST102")
    body = unique()
    post = httpx.post(url, json={"todo_id": 1, "body": body}, headers=headers)
    assert post.status_code == 201 and post.content == b""
    rest.sql("delete from public.notes where body = $1", body)  # the read tests count todo 1's notes


def test_delete_body_from_supabase_py_is_ignored(signed_in: Client) -> None:
    assert signed_in.table("todos").delete().eq("id", -1).execute().data == []


def test_prefer_tx_rollback_answers_but_keeps_nothing(rest: RestStack, alice: User) -> None:
    title = unique()
    headers = {
        "apikey": SETTINGS.anon_key,
        "Authorization": f"Bearer {alice.token}",
        "Prefer": "return=representation, tx=rollback",
    }
    response = httpx.post(f"{rest.api_url}/rest/v1/todos", json={"title": title}, headers=headers)
    assert response.status_code == 201 and response.json()[0]["title"] == title
    assert "tx=rollback" in response.headers["preference-applied"]
    assert rest.sql("select count(*) from public.todos where title = $1", title)[0][0] == 0


def test_minimal_insert_into_a_table_the_caller_cannot_read(rest: RestStack, anon: Client) -> None:
    anon.table("feedback").insert({"body": "great"}, returning="minimal").execute()
    assert rest.sql("select count(*) from public.feedback where body = 'great'")[0][0] == 1
    headers = {"apikey": SETTINGS.anon_key, "Prefer": "return=representation"}
    response = httpx.post(f"{rest.api_url}/rest/v1/feedback", json={"body": "x"}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "42501")


def test_representation_returns_only_the_selected_columns(signed_in: Client) -> None:
    """RETURNING asks only for what `select` needs, so column-level SELECT grants are enough."""
    row = signed_in.table("labels").insert({"label": "a", "secret": "s"}).select("id, label").execute().data[0]
    assert set(row) == {"id", "label"}
    updated = signed_in.table("labels").update({"label": "b"}).eq("id", row["id"]).select("label").execute().data
    assert updated == [{"label": "b"}]
    with pytest.raises(APIError) as err:
        signed_in.table("labels").insert({"label": "c"}).execute()  # select=* needs the secret column too
    assert err.value.code == "42501"
