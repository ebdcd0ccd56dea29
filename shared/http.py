"""The worker's HTTP: httpx's API over aiohttp for the libraries, and aiohttp itself for its own calls.

Every request the worker makes (claims, broadcasts, model streams) went through httpx's own transport,
httpcore + h11 on anyio, written in Python: under the pipeline benchmark the HTTP stack was about half of
the worker's CPU. aiohttp parses HTTP in C and keeps its pool in O(1) per request; the same replies cost
the worker ~20 % less CPU (bench/pipeline.py, py-spy). `httpx-aiohttp` is the adapter (the Anthropic SDK
ships the same one as its `aiohttp` extra).

aiohttp does not read proxy settings from the environment the way httpx does, so with HTTP(S)_PROXY or
ALL_PROXY set, or with COACHBASE_HTTP_CLIENT=httpx, httpx's own transport is used.

The worker's own calls to the Supabase APIs (its RPCs over REST, its Broadcasts: several a reply) go
straight through aiohttp (`ServiceCalls`): the layers above it, supabase-py's request builder and response
model and httpx's client and adapter, cost ~0.35 ms of CPU a call, more than aiohttp's own ~0.25 (2026-12-07,
a one-row RPC against the devstack, 1,000 calls each way). A proxy named by HTTP(S)_PROXY or ALL_PROXY
(and not bypassed by NO_PROXY) is read once, when it is made: aiohttp's own `trust_env` reads the
environment and ~/.netrc on every request, which costs more than the request (~0.45 ms).
"""

from __future__ import annotations

import json
import os
import ssl
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from shared.errors import TransientError

# Connections a model client may hold: the worker's `concurrency` bounds concurrent requests first.
MODEL_CONNECTIONS = 1000
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def use_aiohttp() -> bool:
    """aiohttp unless asked otherwise, or unless the environment names a proxy (httpx honours it)."""
    choice = os.environ.get("COACHBASE_HTTP_CLIENT", "aiohttp").strip().lower()
    return choice != "httpx" and not any(os.environ.get(name) for name in PROXY_VARIABLES)


def transport(max_connections: int, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncBaseTransport:
    """A transport holding at most `max_connections` connections (kept alive between requests)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    if use_aiohttp():
        return AiohttpTransport(verify=verify, limits=limits)
    return httpx.AsyncHTTPTransport(verify=verify, limits=limits)


class ServiceCalls:
    """JSON POSTs to one Supabase API (`base_url`, e.g. https://<project>.supabase.co/rest/v1) with the
    service key, over at most `connections` kept-alive connections."""

    def __init__(self, base_url: str, key: str, *, connections: int, timeout: float) -> None:
        self.base_url = base_url
        self._headers = {
            "apikey": key,
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._connections = connections
        self._proxy = env_proxy(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, path: str, body: Any) -> tuple[int, bytes]:
        """POST `body` as JSON to base_url + path: (status, response body). A request that could not be
        made or answered in time raises TransientError; a value that is not JSON raises TypeError or
        ValueError before anything is sent."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        if self._session is None:  # opened in the running loop, on first use
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        try:
            async with self._session.post(
                self.base_url + path, data=data, headers=self._headers, proxy=self._proxy
            ) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientError(f"POST {path}: {exc!r}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTP(S)_PROXY, else ALL_PROXY), unless NO_PROXY bypasses it."""
    parts = urlsplit(url)
    if not parts.hostname or proxy_bypass(parts.hostname):
        return None
    proxies = getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")
