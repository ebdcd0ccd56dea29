"""The schema cache follows migrations: `NOTIFY pgrst, 'reload schema'` makes new tables reachable."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack


def test_new_table_appears_after_reload_notification(rest: RestStack) -> None:
    url = f"{rest.api_url}/rest/v1/late_arrivals"
    headers = {"apikey": SETTINGS.anon_key}
    assert httpx.get(url, headers=headers).json()["code"] == "PGRST205"
    rest.sql("create table public.late_arrivals (id int primary key)")
    rest.sql("grant select on public.late_arrivals to anon")
    rest.sql("insert into public.late_arrivals values (7)")
    rest.sql("notify pgrst, 'reload schema'")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(url, headers=headers)
        if response.status_code == 200:
            assert response.json() == [{"id": 7}]
            return
        time.sleep(0.05)
    raise AssertionError(f"table never appeared: {response.text}")


def _wait_for(url: str, check: Callable[[httpx.Response], bool]) -> httpx.Response:
    deadline = time.monotonic() + 10
    while True:
        response = httpx.get(url, headers={"apikey": SETTINGS.anon_key})
        if check(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_altered_table_is_served_after_reload(rest: RestStack) -> None:
    url = f"{rest.api_url}/rest/v1/shapes?select=*"
    rest.sql("create table public.shapes (id int primary key)")
    rest.sql("grant select on public.shapes to anon")
    rest.sql("insert into public.shapes values (1)")
    rest.sql("notify pgrst, 'reload schema'")
    assert _wait_for(url, lambda r: r.status_code == 200).json() == [{"id": 1}]
    rest.sql("alter table public.shapes add column sides int default 3")
    rest.sql("notify pgrst")  # an empty payload reloads too
    assert _wait_for(url, lambda r: "sides" in r.text).json() == [{"id": 1, "sides": 3}]


def test_requests_survive_terminated_database_connections(rest: RestStack) -> None:
    url = f"{rest.api_url}/rest/v1/todos?select=id&id=eq.1"
    assert _wait_for(url, lambda r: r.status_code == 200).status_code == 200
    rest.sql("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'authenticator'")
    statuses = [httpx.get(url, headers={"apikey": SETTINGS.anon_key}).status_code for _ in range(5)]
    assert statuses[-1] == 200 and all(s in (200, 503) for s in statuses), statuses
    # The schema watcher reconnects too: a reload notification still reaches it.
    rest.sql("create table public.after_restart (id int primary key)")
    rest.sql("grant select on public.after_restart to anon")
    rest.sql("notify pgrst, 'reload schema'")
    late = f"{rest.api_url}/rest/v1/after_restart"
    assert _wait_for(late, lambda r: r.status_code == 200).json() == []
