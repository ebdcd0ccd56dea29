"""Embeds beyond one foreign key, through supabase-py unchanged: many-to-many through a join table, `!hint`
by constraint, column or join table, self references, views, computed fields and relationships, to-many
spreads, `rel(count)`, empty embeds and `nulls=stripped` on one object."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack


def test_many_to_many_through_the_join_table_both_ways(anon: Client) -> None:
    rows = anon.table("products").select("name, categories(name)").order("id").order("id", foreign_table="categories")
    assert rows.execute().data == [
        {"name": "tea", "categories": [{"name": "drinks"}]},
        {"name": "mug", "categories": [{"name": "kitchen"}, {"name": "gifts"}]},
        {"name": "spoon", "categories": [{"name": "kitchen"}]},
    ]
    kitchen = anon.table("categories").select("name, products(name)").eq("id", 1).order("id", foreign_table="products")
    assert kitchen.single().execute().data == {"name": "kitchen", "products": [{"name": "mug"}, {"name": "spoon"}]}
    # The join table itself still embeds both ways, and `!hint` may name it.
    hinted = anon.table("products").select("id, categories!product_categories(id)").eq("id", 1).execute().data
    assert hinted == [{"id": 1, "categories": [{"id": 2}]}]
    inner = anon.table("products").select("name, categories!inner(name)").eq("categories.name", "gifts").execute()
    assert inner.data == [{"name": "mug", "categories": [{"name": "gifts"}]}]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("writer:authors!todos_author_id_fkey(name)", {"writer": {"name": "Ana"}}),  # by constraint
        ("writer:authors!author_id(name)", {"writer": {"name": "Ana"}}),  # by the key's column
        ("reviewer:authors!reviewer_id(name)", {"reviewer": {"name": "Ben"}}),
        ("reviewer_id(name)", {"reviewer_id": {"name": "Ben"}}),  # the column as the embed's name
    ],
)
def test_fk_disambiguation(anon: Client, select: str, expected: dict[str, object]) -> None:
    assert anon.table("todos").select(select).eq("id", 1).single().execute().data == expected


def test_ambiguous_embed_lists_both_keys(rest: RestStack) -> None:
    response = httpx.get(
        f"{rest.api_url}/rest/v1/todos", params={"select": "authors(*)"}, headers={"apikey": SETTINGS.anon_key}
    )
    body = response.json()
    assert response.status_code == 300 and body["code"] == "PGRST201"
    assert {d["relationship"] for d in body["details"]} == {
        "todos_author_id_fkey using todos(author_id) and authors(id)",
        "todos_reviewer_id_fkey using todos(reviewer_id) and authors(id)",
    }
    assert {d["cardinality"] for d in body["details"]} == {"many-to-one"}
    assert "'authors!todos_author_id_fkey'" in body["hint"]


def test_self_reference_children_by_table_and_parent_by_column(anon: Client) -> None:
    root = anon.table("collections").select("id, collections(id)").eq("id", 1).order("id", foreign_table="collections")
    assert root.single().execute().data == {"id": 1, "collections": [{"id": 2}, {"id": 3}]}
    leaf = anon.table("collections").select("id, parent:parent_id(id, parent_id(id))").eq("id", 4).single()
    assert leaf.execute().data == {"id": 4, "parent": {"id": 2, "parent_id": {"id": 1}}}
    hinted = anon.table("collections").select("id, kids:collections!parent_id(id)").eq("id", 2).single().execute()
    assert hinted.data == {"id": 2, "kids": [{"id": 4}]}


def test_embeds_through_views_and_views_of_views(anon: Client) -> None:
    rows = anon.table("open_todos").select("id, authors(name)").lte("id", 3).order("id").execute().data
    assert rows == [{"id": 1, "authors": {"name": "Ana"}}, {"id": 3, "authors": {"name": "Ben"}}]
    deeper = anon.table("open_todo_titles").select("todo_id, authors(name)").eq("todo_id", 3).execute().data
    assert deeper == [{"todo_id": 3, "authors": {"name": "Ben"}}]
    # ...and a table embeds the view (the inverse, one-to-many).
    ana = anon.table("authors").select("name, open_todos(id)").eq("id", 1).single().execute().data
    assert ana == {"name": "Ana", "open_todos": [{"id": 1}]}


def test_spread_of_many_to_many_gives_arrays(anon: Client) -> None:
    rows = anon.table("products").select("name, ...categories(category:name)").in_("id", [2, 3]).order("id")
    rows = rows.order("id", foreign_table="categories").execute().data
    assert rows == [{"name": "mug", "category": ["kitchen", "gifts"]}, {"name": "spoon", "category": ["kitchen"]}]


def test_computed_fields_select_filter_and_order(anon: Client) -> None:
    rows = anon.table("authors").select("id, shout, todo_total").order("todo_total", desc=True).order("id")
    assert rows.execute().data == [
        {"id": 1, "shout": "ANA", "todo_total": 2},
        {"id": 2, "shout": "BEN", "todo_total": 1},
        {"id": 3, "shout": "CY", "todo_total": 1},
    ]
    assert anon.table("authors").select("id").eq("shout", "BEN").execute().data == [{"id": 2}]
    star = anon.table("authors").select("*").eq("id", 1).single().execute().data
    assert "shout" not in star  # `*` is the table's columns only


def test_computed_relationships_to_one_and_to_many(anon: Client) -> None:
    row = anon.table("authors").select("name, latest_todo(id), reviews(id)").eq("id", 2).single().execute().data
    assert row == {"name": "Ben", "latest_todo": {"id": 3}, "reviews": [{"id": 1}]}
    note = anon.table("notes").select("body, first_author(name)").eq("body", "third").single().execute().data
    assert note == {"body": "third", "first_author": {"name": "Ana"}}


def test_count_inside_an_embed(anon: Client) -> None:
    """`rel(count)` counts the embedded rows even while aggregate functions are disabled (PostgREST)."""
    rows = anon.table("authors").select("name, todos!author_id(count)").order("id").execute().data
    assert rows == [
        {"name": "Ana", "todos": [{"count": 2}]},
        {"name": "Ben", "todos": [{"count": 1}]},
        {"name": "Cy", "todos": [{"count": 1}]},
    ]
    with pytest.raises(APIError) as err:
        anon.table("authors").select("name, todos!author_id(count())").execute()
    assert err.value.code == "PGRST123"


def test_empty_embed_filters_without_appearing(anon: Client) -> None:
    rows = anon.table("todos").select("id, notes()").lte("id", 3).not_.is_("notes", "null").order("id").execute()
    assert rows.data == [{"id": 1}, {"id": 2}]
    inner = anon.table("products").select("name, categories!inner()").eq("categories.name", "kitchen").order("id")
    assert inner.execute().data == [{"name": "mug"}, {"name": "spoon"}]


def test_nulls_stripped_on_a_single_object(rest: RestStack, anon: Client) -> None:
    row = anon.table("todos").select("id, n, s, d").eq("id", 4).strip_nulls().single().execute()
    assert row.data == {"id": 4, "s": "d"}
    headers = {"apikey": SETTINGS.anon_key, "Accept": "application/vnd.pgrst.object+json;nulls=stripped"}
    response = httpx.get(f"{rest.api_url}/rest/v1/todos?select=id,n&id=eq.4", headers=headers)
    assert response.json() == {"id": 4}


def test_or_with_array_literals(anon: Client) -> None:
    rows = anon.table("todos").select("id").lte("id", 5).or_("tags.cs.{a,b},tags.cs.{c}").order("id").execute()
    assert [r["id"] for r in rows.data] == [1, 2, 3]
    rows = anon.table("todos").select("id").lte("id", 5).or_('tags.ov.{"c","zz"},id.eq.5').order("id").execute()
    assert [r["id"] for r in rows.data] == [2, 3, 5]
