"""One client holding connections cannot starve the gateway: half-sent requests are cut off by the header
deadline and, once stalled, by the per-client allowance, the connection cap makes room from the heaviest client, and
the workers' (service-role) connections are never the ones closed. Every hostile socket targets
127.0.0.1, their number is bounded and each test ends within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import websockets

from devstack import tokens
from tests.conftest import SETTINGS, gateway_process

PENDING_ALLOWED = 40
MAX_CONNECTIONS = 300
HOSTILE = 400  # half-sent requests from one client, ten times its allowance
HEADER_TIMEOUT_S = 5  # a pending connection counts as stalled after a fifth of it


@pytest.fixture(scope="module")
def guarded(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "DEVSTACK_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "DEVSTACK_BODY_TIMEOUT_S": "2",
        "DEVSTACK_MAX_PENDING_PER_CLIENT": str(PENDING_ALLOWED),
        "DEVSTACK_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    with gateway_process(database, tmp_path_factory.mktemp("guarded") / "gateway.log", env) as url:
        yield url


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    return host, int(port)


@contextlib.asynccontextmanager
async def _half_sent(url: str, count: int) -> AsyncIterator[list[asyncio.StreamReader]]:
    """`count` connections that each send part of a request's headers and then nothing."""
    host, port = _address(url)
    streams = []
    try:
        for _ in range(count):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /rest/v1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            streams.append((reader, writer))
        await asyncio.gather(*(w.drain() for _, w in streams))
        yield [r for r, _ in streams]
    finally:
        for _, writer in streams:
            writer.close()


async def _closed(reader: asyncio.StreamReader, within: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it stayed open."""
    try:
        return await asyncio.wait_for(reader.read(), within)
    except TimeoutError:
        return None


def _user() -> dict[str, str]:
    claims = {"sub": str(uuid.uuid4()), "role": "authenticated", "exp": tokens.now() + 600}
    return {
        "apikey": SETTINGS.anon_key,
        "Authorization": f"Bearer {tokens.encode(claims, SETTINGS.jwt_secret.get_secret_value())}",
    }


async def _everyone_is_served(url: str) -> None:
    service = {"apikey": SETTINGS.service_role_key, "Authorization": f"Bearer {SETTINGS.service_role_key}"}
    async with httpx.AsyncClient(timeout=5) as http:
        rest = await http.get(f"{url}/rest/v1/coaches?select=id&limit=1", headers=_user())
        auth = await http.get(f"{url}/auth/v1/settings", headers={"apikey": SETTINGS.anon_key})
        worker = await http.get(f"{url}/rest/v1/coaches?select=id&limit=1", headers=service)
    assert (rest.status_code, auth.status_code, worker.status_code) == (200, 200, 200)
    ws_url = url.replace("http://", "ws://") + f"/realtime/v1/websocket?apikey={SETTINGS.anon_key}&vsn=1.0.0"
    async with websockets.connect(ws_url, open_timeout=5) as ws:
        await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["payload"]["status"] == "ok"


async def test_half_sent_requests_do_not_starve_anyone(guarded: str) -> None:
    async with _half_sent(guarded, HOSTILE) as readers:
        await _everyone_is_served(guarded)
        # Once they are stalled, the client's next connection cuts off all but its newest PENDING_ALLOWED
        # half-sent requests (408), long before their header deadline.
        await asyncio.sleep(HEADER_TIMEOUT_S / 5 + 0.3)
        await _everyone_is_served(guarded)
        answers = await asyncio.gather(*(_closed(r, 1) for r in readers[: HOSTILE - PENDING_ALLOWED]))
        assert all(a is not None and a.startswith(b"HTTP/1.1 408") for a in answers)
        # The rest are cut off by the header deadline.
        late = await asyncio.gather(*(_closed(r, HEADER_TIMEOUT_S + 2) for r in readers[HOSTILE - PENDING_ALLOWED :]))
        assert all(a is not None and a.startswith(b"HTTP/1.1 408") for a in late)
        await _everyone_is_served(guarded)


async def test_a_burst_of_fresh_connections_from_one_client_is_served(guarded: str) -> None:
    """More connections at once than the client's allowance, each sending its request at once: none is
    cut off (none has stalled), as tests/rest/test_load.py's 200 clients from 127.0.0.1."""
    host, port = _address(guarded)
    opened = [await asyncio.open_connection(host, port) for _ in range(PENDING_ALLOWED * 3)]
    try:
        statuses = await asyncio.gather(*(_request(reader, writer, _user()) for reader, writer in opened))
    finally:
        for _, writer in opened:
            writer.close()
    assert set(statuses) == {200}


async def _kept_alive(url: str, headers: dict[str, str]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = _address(url)
    reader, writer = await asyncio.open_connection(host, port)
    await _request(reader, writer, headers)
    return reader, writer


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> int:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET /rest/v1/coaches?select=id&limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1").split("\r\n")
    length = next(int(h.split(":")[1]) for h in head if h.lower().startswith("content-length"))
    await reader.readexactly(length)
    return int(head[0].split()[1])


async def test_the_connection_cap_makes_room_but_spares_the_workers(guarded: str) -> None:
    service = {"apikey": SETTINGS.service_role_key, "Authorization": f"Bearer {SETTINGS.service_role_key}"}
    worker = await _kept_alive(guarded, service)  # the oldest connection of all
    idle = []
    try:
        for _ in range(MAX_CONNECTIONS + 60):  # more kept-alive connections than the gateway holds
            idle.append(await _kept_alive(guarded, _user()))
        await _everyone_is_served(guarded)
        assert await _request(*worker, service) == 200  # the worker's pooled connection is still there
        closed = await asyncio.gather(*(_closed(r, 0.2) for r, _ in idle[:50]))
        assert all(a == b"" for a in closed)  # the oldest anonymous ones made room
    finally:
        for _, writer in [worker, *idle]:
            writer.close()


async def test_slow_bodies_and_huge_headers_are_cut_off(guarded: str) -> None:
    host, port = _address(guarded)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /rest/v1/rpc/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
    assert await _closed(reader, 5) is not None  # closed after the body deadline (2 s here)
    writer.close()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /rest/v1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    answer = await _closed(reader, 5)
    assert answer is not None and answer.startswith(b"HTTP/1.1 431")
    writer.close()


async def test_a_body_that_keeps_arriving_is_not_cut_off(guarded: str) -> None:
    """The body deadline (2 s here) runs from the last chunk: an upload that moves may take longer."""
    host, port = _address(guarded)
    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"email": "slow@example.com", "password": "not-the-password"}'
    headers = f"apikey: {SETTINGS.anon_key}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(f"POST /auth/v1/token?grant_type=password HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    for start in range(0, len(body), len(body) // 5 + 1):  # ~3 s in all, well past the deadline
        await asyncio.sleep(0.6)
        writer.write(body[start : start + len(body) // 5 + 1])
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 400")  # answered (invalid credentials), not closed
