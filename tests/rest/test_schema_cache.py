"""The schema cache follows migrations: `NOTIFY pgrst, 'reload schema'` makes new tables reachable."""

from __future__ import annotations

import time

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
