"""Reads through supabase-py unchanged: select forms, embeds, every filter operator, order, range, count."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack


def ids(rows: list[dict]) -> list[int]:  # type: ignore[type-arg]
    return [r["id"] for r in rows]


def test_select_columns_aliases_casts_and_json_paths(anon: Client) -> None:
    rows = (
        anon.table("todos")
        .select("id, label:title, n::text, data->nested->>v, city:data->>k, nested:data->nested")
        .eq("id", 1)
        .execute()
        .data
    )
    assert rows == [{"id": 1, "label": "seed alpha", "n": "1", "v": "1", "city": "x", "nested": {"v": 1}}]


def test_select_star_returns_every_column_in_order(anon: Client) -> None:
    row = anon.table("authors").select("*").eq("id", 1).execute().data[0]
    assert list(row) == ["id", "name", "bio"]
    assert row["bio"] == {"city": "Lisbon", "langs": ["pt", "en"]}


def test_embed_one_to_many_and_many_to_one(anon: Client) -> None:
    rows = (
        anon.table("todos")
        .select("id, notes(body, position), author:authors!author_id(name)")
        .in_("id", [1, 3])
        .order("id")
        .execute()
        .data
    )
    assert rows[0]["author"] == {"name": "Ana"}
    assert sorted(n["body"] for n in rows[0]["notes"]) == ["first", "second"]
    assert rows[1] == {"id": 3, "notes": [], "author": {"name": "Ben"}}


def test_embed_hint_by_constraint_and_reverse_direction(anon: Client) -> None:
    rows = anon.table("authors").select("name, reviewed:todos!todos_reviewer_id_fkey(id)").order("id").execute().data
    assert rows == [
        {"name": "Ana", "reviewed": [{"id": 3}]},
        {"name": "Ben", "reviewed": [{"id": 1}]},
        {"name": "Cy", "reviewed": []},
    ]


def test_embed_one_to_one_is_an_object(anon: Client) -> None:
    rows = anon.table("todos").select("id, todo_details(info)").lte("id", 2).order("id").execute().data
    assert rows == [{"id": 1, "todo_details": {"info": "detail one"}}, {"id": 2, "todo_details": None}]


def test_nested_embed_with_embedded_filter_order_and_limit(anon: Client) -> None:
    rows = (
        anon.table("authors")
        .select("name, todos!author_id(id, notes(body))")
        .eq("id", 1)
        .eq("todos.done", False)
        .order("id", desc=True, foreign_table="todos")
        .limit(1, foreign_table="todos")
        .execute()
        .data
    )
    assert rows == [{"name": "Ana", "todos": [{"id": 1, "notes": [{"body": "first"}, {"body": "second"}]}]}]


def test_inner_embed_filters_the_parent(anon: Client) -> None:
    rows = anon.table("todos").select("id, notes!inner(body)").eq("notes.body", "third").execute().data
    assert rows == [{"id": 2, "notes": [{"body": "third"}]}]


def test_ambiguous_embed_is_300_pgrst201(anon: Client) -> None:
    with pytest.raises(APIError) as err:
        anon.table("todos").select("id, authors(name)").execute()
    assert err.value.code == "PGRST201"


def test_unknown_embed_is_pgrst200(anon: Client) -> None:
    with pytest.raises(APIError) as err:
        anon.table("todos").select("id, nothing(*)").execute()
    assert err.value.code == "PGRST200"


@pytest.mark.parametrize(
    ("apply", "expected"),
    [
        (lambda q: q.eq("s", "a"), [1]),
        (lambda q: q.neq("s", "a"), [2, 4, 5]),
        (lambda q: q.gt("n", 2), [3, 5]),
        (lambda q: q.gte("n", 2), [2, 3, 5]),
        (lambda q: q.lt("n", 2), [1]),
        (lambda q: q.lte("n", 2), [1, 2]),
        (lambda q: q.like("title", "%alpha"), [1]),
        (lambda q: q.like("title", "*eta"), [2]),
        (lambda q: q.ilike("title", "%GAMMA%"), [3]),
        (lambda q: q.like_any_of("title", "%alpha,%beta"), [1, 2]),
        (lambda q: q.ilike_all_of("title", "SEED%,%A"), [1, 2, 3]),
        (lambda q: q.filter("title", "match", "^seed [ab]"), [1, 2]),
        (lambda q: q.filter("title", "imatch", "^SEED E"), [5]),
        (lambda q: q.is_("n", "null"), [4]),
        (lambda q: q.is_("done", "true"), [2, 5]),
        (lambda q: q.not_.is_("s", "null"), [1, 2, 4, 5]),
        (lambda q: q.in_("id", [1, 3, 99]), [1, 3]),
        (lambda q: q.in_("title", ['seed delta, "quoted"', "seed beta"]), [2, 4]),
        (lambda q: q.contains("tags", ["a", "b"]), [1, 2]),
        (lambda q: q.contained_by("tags", ["a", "b"]), [1, 4, 5]),
        (lambda q: q.overlaps("tags", ["c"]), [2, 3]),
        (lambda q: q.contains("data", {"k": "y"}), [2]),
        (lambda q: q.range_gt("span", (0, 4)), [2, 5]),
        (lambda q: q.range_lt("span", (6, 8)), [1]),
        (lambda q: q.range_adjacent("span", (9, 20)), [2, 5]),
        (lambda q: q.sl("span", (9, 11)), [1, 2]),
        (lambda q: q.nxr("span", (0, 6)), [1]),
        (lambda q: q.nxl("span", (4, 6)), [2, 5]),
        (lambda q: q.overlaps("span", "[4,6)"), [1, 2]),
        (lambda q: q.text_search("doc", "alpha | beta"), [1, 2]),
        (lambda q: q.text_search("doc", "alpha beta", options={"type": "plain"}), []),
        (lambda q: q.text_search("doc", "seed gamma", options={"type": "phrase", "config": "english"}), [3]),
        (lambda q: q.text_search("doc", "alpha or beta", options={"type": "web_search"}), [1, 2]),
        (lambda q: q.text_search("title", "epsilon"), [5]),
        (lambda q: q.filter("d", "isdistinct", "2026-01-01"), [2, 3, 4, 5]),
        (lambda q: q.not_.eq("n", 1).not_.is_("n", "null"), [2, 3, 5]),
        (lambda q: q.or_("n.eq.1,s.eq.e"), [1, 5]),
        (lambda q: q.or_("n.gt.2,and(done.is.true,n.lt.3)"), [2, 3, 5]),
        (lambda q: q.or_('title.eq."seed delta, \\"quoted\\"",id.in.(1,2)'), [1, 2, 4]),
        (lambda q: q.not_.or_("n.eq.1,n.is.null"), [2, 3, 5]),
        (lambda q: q.or_("not.and(n.gte.2,n.lte.3),id.eq.3"), [1, 3, 5]),
        (lambda q: q.gte("n", 1).lte("n", 3), [1, 2, 3]),
        (lambda q: q.match({"s": "b", "done": True}), [2]),
        (lambda q: q.eq("data->>k", "z"), [5]),
    ],
)
def test_filter_operators(anon: Client, apply, expected: list[int]) -> None:  # type: ignore[no-untyped-def]
    query = anon.table("todos").select("id").lte("id", 5)
    assert ids(apply(query).order("id").execute().data) == expected


def test_order_with_nulls_first_and_last(anon: Client) -> None:
    base = anon.table("todos").select("id").lte("id", 5)
    assert ids(base.order("n", desc=True, nullsfirst=True).execute().data) == [4, 5, 3, 2, 1]
    base = anon.table("todos").select("id").lte("id", 5)
    assert ids(base.order("s").order("id", desc=True).execute().data) == [1, 2, 4, 5, 3]


def test_limit_offset_and_range_with_exact_count(anon: Client) -> None:
    page = anon.table("todos").select("id", count="exact").lte("id", 5).order("id").range(1, 2).execute()
    assert ids(page.data) == [2, 3]
    assert page.count == 5
    page = anon.table("todos").select("id", count="exact").lte("id", 5).order("id").limit(2).offset(4).execute()
    assert ids(page.data) == [5] and page.count == 5


def test_planned_and_estimated_counts_are_numbers(anon: Client) -> None:
    for method in ("planned", "estimated"):
        response = anon.table("todos").select("id", count=method).limit(1).execute()  # type: ignore[arg-type]
        assert isinstance(response.count, int)


def test_head_request_counts_without_body(anon: Client) -> None:
    response = anon.table("todos").select("*", count="exact", head=True).lte("id", 5).execute()
    assert response.count == 5
    assert not response.data


def test_single_and_maybe_single(anon: Client) -> None:
    assert anon.table("todos").select("id").eq("id", 1).single().execute().data == {"id": 1}
    with pytest.raises(APIError) as err:
        anon.table("todos").select("id").eq("id", -1).single().execute()
    assert err.value.code == "PGRST116"
    assert anon.table("todos").select("id").eq("id", -1).maybe_single().execute() is None
    assert anon.table("todos").select("id").eq("id", 2).maybe_single().execute().data == {"id": 2}


def test_csv(anon: Client) -> None:
    text = anon.table("todos").select("id,title").in_("id", [1, 4]).order("id").csv().execute().data
    assert text == 'id,title\n1,seed alpha\n4,"seed delta, ""quoted"""\n'


def test_other_exposed_schema_and_unexposed_one(rest: RestStack) -> None:
    assert rest.client(schema="extra").table("things").select("label").execute().data == [{"label": "extra thing"}]
    with pytest.raises(APIError) as err:
        rest.client(schema="private").table("things").select("*").execute()
    assert err.value.code == "PGRST106"
    assert err.value.message == "Invalid schema: private"


def test_wire_statuses_and_headers(rest: RestStack) -> None:
    headers = {"apikey": SETTINGS.anon_key, "Prefer": "count=exact"}
    url = f"{rest.api_url}/rest/v1/todos"
    partial = httpx.get(url, params={"select": "id", "id": "lte.5", "limit": "2"}, headers=headers)
    assert partial.status_code == 206 and partial.headers["content-range"] == "0-1/5"
    assert partial.headers["content-type"] == "application/json; charset=utf-8"
    empty = httpx.get(url, params={"id": "eq.-1"}, headers=headers)
    assert empty.status_code == 200 and empty.headers["content-range"] == "*/0" and empty.json() == []
    ranged = httpx.get(url, params={"select": "id", "order": "id"}, headers={**headers, "Range": "1-2"})
    assert [r["id"] for r in ranged.json()] == [2, 3]
    too_far = httpx.get(url, params={"offset": "1000"}, headers=headers)
    assert too_far.status_code == 416 and too_far.json()["code"] == "PGRST103"
    missing = httpx.get(f"{rest.api_url}/rest/v1/nothing", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "PGRST205"
    assert missing.headers["proxy-status"] == "PostgREST; error=PGRST205"
    bad = httpx.get(url, params={"id": "foo.1"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "PGRST100"
    column = httpx.get(url, params={"select": "nope"}, headers=headers)
    assert column.status_code == 400 and column.json()["code"] == "42703"
    one = httpx.get(url, params={"id": "eq.1"}, headers={**headers, "Accept": "application/vnd.pgrst.object+json"})
    assert one.headers["content-type"] == "application/vnd.pgrst.object+json; charset=utf-8"
    assert one.json()["id"] == 1
    media = httpx.get(url, headers={**headers, "Accept": "text/xml"})
    assert media.status_code == 406 and media.json()["code"] == "PGRST107"


def test_max_rows_caps_every_read(rest: RestStack) -> None:
    headers = {"apikey": SETTINGS.anon_key}
    numbers = httpx.get(f"{rest.api_url}/rest/v1/rpc/numbers", params={"upto": "1500"}, headers=headers)
    assert numbers.status_code == 200 and len(numbers.json()) == 1000
    pairs = httpx.get(f"{rest.api_url}/rest/v1/rpc/pairs", params={"upto": "1500", "select": "k"}, headers=headers)
    assert len(pairs.json()) == 1000
    limited = httpx.get(f"{rest.api_url}/rest/v1/rpc/pairs", params={"upto": "1500", "limit": "3"}, headers=headers)
    assert [r["k"] for r in limited.json()] == [1, 2, 3]


def test_null_filters_on_embedded_resources(anon: Client) -> None:
    with_notes = anon.table("todos").select("id, notes(id)", count="exact").lte("id", 5).not_.is_("notes", "null")
    response = with_notes.order("id").execute()
    assert ids(response.data) == [1, 2] and response.count == 2
    without = anon.table("todos").select("id, todo_details(info)").lte("id", 3).is_("todo_details", "null")
    assert ids(without.order("id").execute().data) == [2, 3]
    with pytest.raises(APIError) as err:
        anon.table("todos").select("id, notes(id)").eq("notes", "x").execute()
    assert err.value.code == "PGRST120"


def test_strip_nulls(anon: Client) -> None:
    rows = anon.table("todos").select("id, n, s").in_("id", [3, 4]).order("id").strip_nulls().execute().data
    assert rows == [{"id": 3, "n": 3}, {"id": 4, "s": "d"}]


def test_select_tolerates_spaces_and_newlines(anon: Client) -> None:
    rows = (
        anon.table("todos")
        .select("""
        id,
        author : authors ! author_id ( name ),
        notes ( body )
    """)
        .eq("id", 3)
        .execute()
        .data
    )
    assert rows == [{"id": 3, "author": {"name": "Ben"}, "notes": []}]


def test_options_lists_methods(rest: RestStack) -> None:
    response = httpx.options(f"{rest.api_url}/rest/v1/todos", headers={"apikey": SETTINGS.anon_key})
    assert response.status_code == 200 and "PATCH" in response.headers["allow"]


def test_spread_of_a_to_one_embed(anon: Client) -> None:
    rows = anon.table("todos").select("id, ...authors!author_id(author:name)").in_("id", [1, 4]).order("id").execute()
    assert rows.data == [{"id": 1, "author": "Ana"}, {"id": 4, "author": None}]
    inner = anon.table("todos").select("id, ...authors!author_id!inner(name)").in_("id", [1, 4]).execute()
    assert inner.data == [{"id": 1, "name": "Ana"}]
    # PostgREST 13: a to-many spread gives one array per column.
    many = anon.table("authors").select("id, ...todos!author_id(title)").lte("id", 3).lte("todos.id", 5)
    many = many.order("id").order("id", foreign_table="todos").execute()
    assert many.data == [
        {"id": 1, "title": ["seed alpha", "seed beta"]},
        {"id": 2, "title": ["seed gamma"]},
        {"id": 3, "title": ["seed epsilon"]},
    ]
