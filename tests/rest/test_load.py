"""The gateway stays responsive with 200 clients at once (speed targets themselves live in bench/).

A minimal keep-alive HTTP/1.1 client on asyncio streams: httpx's async pool is itself slow with
hundreds of connections, which would measure the client rather than the gateway.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack


async def _client(host: str, port: int, paths: list[str]) -> list[int]:
    reader, writer = await asyncio.open_connection(host, port)
    statuses = []
    try:
        for path in paths:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\napikey: {SETTINGS.anon_key}\r\n\r\n".encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            length = next(int(h.split(":")[1]) for h in head if h.lower().startswith("content-length"))
            await reader.readexactly(length)
            statuses.append(int(head[0].split()[1]))
    finally:
        writer.close()
        await writer.wait_closed()
    return statuses


async def test_two_hundred_concurrent_clients_are_all_served(rest: RestStack) -> None:
    url = urlsplit(rest.api_url)
    assert url.hostname is not None and url.port is not None
    paths = [f"/rest/v1/todos?select=id,notes(id)&id=eq.{i % 5 + 1}" for i in range(5)]
    results = await asyncio.wait_for(
        asyncio.gather(*(_client(url.hostname, url.port, paths) for _ in range(200))), timeout=60
    )
    assert {status for statuses in results for status in statuses} == {200}
    assert sum(len(statuses) for statuses in results) == 1000
