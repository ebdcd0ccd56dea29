"""The worker's HTTP transport: httpx's API (what supabase-py and the model SDKs take) over aiohttp.

Every request the worker makes (claims, broadcasts, model streams) went through httpx's own transport,
httpcore + h11 on anyio, written in Python: under the pipeline benchmark the HTTP stack was about half of
the worker's CPU. aiohttp parses HTTP in C and keeps its pool in O(1) per request; the same replies cost
the worker ~20 % less CPU (bench/pipeline.py, py-spy). `httpx-aiohttp` is the adapter (the Anthropic SDK
ships the same one as its `aiohttp` extra).

aiohttp does not read proxy settings from the environment the way httpx does, so with HTTP(S)_PROXY or
ALL_PROXY set, or with COACHBASE_HTTP_CLIENT=httpx, httpx's own transport is used.
"""

from __future__ import annotations

import os
import ssl

import httpx
from httpx_aiohttp import AiohttpTransport

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
