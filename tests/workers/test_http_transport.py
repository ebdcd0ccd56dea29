"""The worker's HTTP transport: aiohttp under httpx's API, httpx's own where the environment names a proxy
(aiohttp would ignore it) or COACHBASE_HTTP_CLIENT=httpx asks for it. Both carry real requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from shared import http

PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXIES, "COACHBASE_HTTP_CLIENT"):
        monkeypatch.delenv(name, raising=False)


def test_aiohttp_by_default() -> None:
    assert isinstance(http.transport(4), AiohttpTransport)


def test_httpx_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHBASE_HTTP_CLIENT", "httpx")
    assert isinstance(http.transport(4), httpx.AsyncHTTPTransport)


@pytest.mark.parametrize("variable", PROXIES)
def test_httpx_where_a_proxy_is_set(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "http://proxy.internal:3128")
    assert isinstance(http.transport(4), httpx.AsyncHTTPTransport)


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_a_request_round_trips_on_either(monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    monkeypatch.setenv("COACHBASE_HTTP_CLIENT", client)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        body = await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=http.transport(2), timeout=5) as session:
            response = await session.post(f"http://127.0.0.1:{port}/echo", json={"ok": True})
        assert response.status_code == 200 and response.json() == {"ok": True}
    finally:
        server.close()
        await server.wait_closed()
