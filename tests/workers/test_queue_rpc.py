"""The queue's RPCs, straight over aiohttp (workers/queue.py, shared/http.py ServiceCalls): answers and
refusals as the worker reads them, against the devstack's REST API and a server answering as a proxy
in front of it might."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from supabase import AsyncClient

from shared.errors import PermanentError, TransientError
from shared.http import ServiceCalls, env_proxy
from tests.conftest import Stack
from workers.queue import JobQueue, LeaseLost


@pytest.fixture
async def queue(stack: Stack) -> AsyncIterator[JobQueue]:
    rest = ServiceCalls(f"{stack.api_url}/rest/v1", stack.service_role_key, connections=2, timeout=10)
    yield JobQueue(cast(AsyncClient, None), "worker-under-test", rest)
    await rest.aclose()


async def test_an_rpc_answers_with_its_json(queue: JobQueue) -> None:
    assert await queue.rpc("safety_decisions_v1", {"p_message_ids": []}) == {}
    jobs, finished, seen = await queue.claim(["no_such_kind"], 1, 60)
    assert (jobs, finished) == ([], {})
    assert seen is not None and seen.xmin <= seen.xmax


async def test_refusals_become_the_workers_errors(queue: JobQueue, admin: asyncpg.Connection) -> None:
    done = await admin.fetchval(
        "insert into internal.jobs (kind, payload, status, finished_at) "
        "values ('followup', '{}', 'succeeded', now()) returning id"
    )
    with pytest.raises(LeaseLost, match="not leased"):  # PT409 in PostgREST's error body
        await queue.rpc("extend_job_lease_v1", {"p_job_id": done, "p_worker": queue.worker_id, "p_lease_seconds": 60})
    with pytest.raises(PermanentError, match="22023"):
        await queue.claim([], 1, 0)  # a lease of 0 seconds is refused
    with pytest.raises(PermanentError, match="PGRST202"):  # no such function
        await queue.rpc("no_such_function_v1", {})
    with pytest.raises(ValueError):  # not JSON: nothing is sent
        await queue.rpc("safety_decisions_v1", {"p_message_ids": [float("nan")]})


async def test_a_server_that_cannot_be_reached_is_worth_retrying() -> None:
    rest = ServiceCalls("http://127.0.0.1:9/rest/v1", "key", connections=1, timeout=5)
    queue = JobQueue(cast(AsyncClient, None), "worker-under-test", rest)
    with pytest.raises(TransientError, match="safety_decisions_v1"):
        await queue.rpc("safety_decisions_v1", {"p_message_ids": []})
    await rest.aclose()


async def test_a_proxys_error_page_is_read_by_its_status() -> None:
    """A gateway in front of PostgREST may answer with a page of its own: 502/503/504 (and 429) are worth
    retrying, anything else is not; the request carried the service key as Supabase's clients send it."""
    seen: list[dict[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append({"apikey": request.headers["apikey"], "authorization": request.headers["Authorization"],
                     "body": await request.text()})  # fmt: skip
        status = int(request.match_info["status"])
        return web.Response(status=status, text=f"<html>{status} from the proxy</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/rest/v1/rpc/{status}", answer)
    async with TestServer(app) as server:
        rest = ServiceCalls(str(server.make_url("/rest/v1")), "service-key", connections=1, timeout=5)
        queue = JobQueue(cast(AsyncClient, None), "worker-under-test", rest)
        for status in (429, 502, 503, 504):
            with pytest.raises(TransientError, match=f"HTTP {status}"):
                await queue.rpc(str(status), {"p": "é"})
        with pytest.raises(PermanentError, match="HTTP 400 <html>400 from the proxy"):
            await queue.rpc("400", {"p": "é"})
        with pytest.raises(PermanentError, match="HTTP 200, not JSON"):
            await queue.rpc("200", {"p": "é"})
        await rest.aclose()
    assert seen[0] == {"apikey": "service-key", "authorization": "Bearer service-key", "body": '{"p":"é"}'}


async def test_postgrest_out_of_connections_is_worth_retrying() -> None:
    """Under load PostgREST answers 504 PGRST003 (no pooled connection in time): refused as permanent, a
    claim carrying finished jobs would fail every one of them for good."""

    async def answer(request: web.Request) -> web.Response:
        body = {"code": "PGRST003", "message": "Timed out acquiring connection from connection pool.",
                "details": None, "hint": None}  # fmt: skip
        return web.json_response(body, status=504)

    app = web.Application()
    app.router.add_post("/rest/v1/rpc/{name}", answer)
    async with TestServer(app) as server:
        rest = ServiceCalls(str(server.make_url("/rest/v1")), "service-key", connections=1, timeout=5)
        queue = JobQueue(cast(AsyncClient, None), "worker-under-test", rest)
        with pytest.raises(TransientError, match="PGRST003"):
            await queue.rpc("claim_jobs_v4", {})
        await rest.aclose()


def test_the_proxy_comes_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://project.supabase.co/rest/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert env_proxy("https://project.supabase.co/rest/v1") == "http://proxy.internal:3128"
    assert env_proxy("http://project.supabase.co/rest/v1") is None  # only for https
    monkeypatch.setenv("ALL_PROXY", "http://all.internal:3128")
    assert env_proxy("http://project.supabase.co/rest/v1") == "http://all.internal:3128"
    monkeypatch.setenv("NO_PROXY", "supabase.co")
    assert env_proxy("https://project.supabase.co/rest/v1") is None
