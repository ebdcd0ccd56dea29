"""REST: a one-row select and a one-row insert through the gateway (supabase-py) vs directly with psycopg.

Starts its own embedded Postgres and gateway subprocess, so it measures what `make dev` runs. The
client shares the machine's cores with the gateway and Postgres, as a developer's laptop would.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import psycopg
from supabase import ClientOptions, acreate_client, create_client

from bench import Figure, Section, interleaved, percentile
from bench._stack import PASSWORD, SETTINGS, gateway, postgres, wait_http
from devstack.db import role_dsn

COUNT = int(os.environ.get("BENCH_REST_COUNT", "2000"))
SECONDS = float(os.environ.get("BENCH_REST_SECONDS", "5"))
SCHEMA = """
create table public.bench_items (id int primary key, name text not null, qty int not null default 1);
alter table public.bench_items enable row level security;
create policy "Anyone reads bench items" on public.bench_items for select to anon, authenticated using (true);
create policy "Anyone adds bench items" on public.bench_items for insert to anon, authenticated with check (true);
grant select, insert on public.bench_items to anon, authenticated;
insert into public.bench_items select g, 'item ' || g, g % 7 from generate_series(1, 1000) g;
"""
SELECT_SQL = "select * from public.bench_items where id = %s"
LIGHT = "select 1 row, 16 concurrent connections: minimal client → gateway"
INSERT_SQL = "insert into public.bench_items (id, name) values (%s, %s) returning *"


@contextlib.contextmanager
def _gateway(dsn: str, tmp: Path) -> Iterator[str]:
    """The gateway, once its schema cache holds the benchmark's table."""
    with gateway(dsn, tmp) as (url, _):
        wait_http(f"{url}/rest/v1/bench_items?limit=1", headers={"apikey": SETTINGS.anon_key})
        yield url


def _sequential(url: str, dsn: str) -> list[Figure]:
    http = httpx.Client(timeout=30)
    client = create_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))
    raw = httpx.Client(headers={"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {SETTINGS.anon_key}"})
    direct = psycopg.connect(role_dsn(dsn, "postgres", PASSWORD), autocommit=True, prepare_threshold=0)
    ids = iter(range(1_000_000, 10_000_000))
    try:
        selects = interleaved(
            [
                (
                    "select 1 row: supabase-py → gateway",
                    lambda: client.table("bench_items").select("*").eq("id", 42).execute(),
                ),
                ("select 1 row: httpx → gateway", lambda: raw.get(f"{url}/rest/v1/bench_items?select=*&id=eq.42")),
                ("select 1 row: psycopg direct", lambda: direct.execute(SELECT_SQL, (42,)).fetchall()),
            ],
            COUNT,
        )
        inserts = interleaved(
            [
                (
                    "insert 1 row: supabase-py → gateway",
                    lambda: client.table("bench_items").insert({"id": next(ids), "name": "x"}).execute(),
                ),
                ("insert 1 row: psycopg direct", lambda: direct.execute(INSERT_SQL, (next(ids), "x")).fetchall()),
            ],
            COUNT // 2,
        )
        return [*selects, *inserts]
    finally:
        http.close()
        raw.close()
        direct.close()


async def _load(name: str, worker: Callable[[], Awaitable[object]], concurrency: int) -> Figure:
    """`concurrency` tasks call `worker` in a loop for SECONDS; latency of every call and overall rate."""
    samples: list[float] = []
    stop = time.perf_counter() + SECONDS

    async def loop() -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await worker()
            samples.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), len(samples) / elapsed, len(samples))


async def _official_async(url: str) -> Figure:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        client = await acreate_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))  # type: ignore[arg-type]
        table = client.table("bench_items")
        return await _load(
            "select 1 row, 32 concurrent: supabase-py (async) → gateway",
            lambda: table.select("*").eq("id", 42).execute(),
            32,
        )


async def _direct_async(dsn: str) -> Figure:
    pool = await asyncpg.create_pool(role_dsn(dsn, "postgres", PASSWORD), min_size=8, max_size=8)
    try:
        return await _load(
            "select 1 row, 32 concurrent: asyncpg pool of 8, direct",
            lambda: pool.fetch("select * from public.bench_items where id = $1", 42),
            32,
        )
    finally:
        await pool.close()


def _hammer(port: int, path: str, connections: int, seconds: float) -> tuple[list[float], float]:
    """Keep-alive GETs over `connections` sockets from a minimal asyncio HTTP/1.1 client: latencies (ms), seconds."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\napikey: {SETTINGS.anon_key}\r\n\r\n".encode()
    samples: list[float] = []

    async def connection(stop: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
            length = next(int(h.split(b":")[1]) for h in head if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            samples.append((time.perf_counter() - t0) * 1000)
        writer.close()

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(connection(started + seconds) for _ in range(connections)))
        return time.perf_counter() - started

    return samples, asyncio.run(main())


def _light(name: str, url: str, connections: int) -> Figure:
    """Run `_hammer` in its own process, so the load generator's GIL is not the bench's."""
    port = int(url.rsplit(":", 1)[1])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        samples, elapsed = pool.apply(_hammer, (port, "/rest/v1/bench_items?select=*&id=eq.42", connections, SECONDS))
    return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), len(samples) / elapsed, len(samples))


def run() -> Section:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # supabase-py 2.34 passes postgrest deprecated args
        with (
            tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp,
            postgres(Path(tmp), schema=SCHEMA) as dsn,
            _gateway(dsn, Path(tmp)) as url,
        ):
            sequential = _sequential(url, dsn)
            official = asyncio.run(_official_async(url))
            light = _light(LIGHT, url, 16)
            crowd = _light("select 1 row, 200 concurrent connections: minimal client → gateway", url, 200)
            direct = asyncio.run(_direct_async(dsn))
    return _section([*sequential, official, light, crowd, direct])


def _section(figures: list[Figure]) -> Section:
    by = {f.name: f for f in figures}
    gateway = by["select 1 row: supabase-py → gateway"]
    raw = by["select 1 row: httpx → gateway"]
    direct = by["select 1 row: psycopg direct"]
    light = by[LIGHT]
    added, raw_added = gateway.p50_ms - direct.p50_ms, raw.p50_ms - direct.p50_ms
    rate = light.throughput or 0
    return Section(
        "REST (/rest/v1) vs direct SQL",
        figures,
        ratios={
            "select p50: gateway (supabase-py) / psycopg": gateway.p50_ms / direct.p50_ms,
            "select p50 added: supabase-py + gateway (ms)": added,
            "select p50 added: httpx + gateway (ms)": raw_added,
            "select p50: supabase-py's own request building and parsing (supabase-py - httpx, ms)": gateway.p50_ms
            - raw.p50_ms,
            "insert p50: gateway (supabase-py) / psycopg": by["insert 1 row: supabase-py → gateway"].p50_ms
            / by["insert 1 row: psycopg direct"].p50_ms,
            "select req/s: gateway (16 connections) / asyncpg direct (32 tasks)": rate
            / (by["select 1 row, 32 concurrent: asyncpg pool of 8, direct"].throughput or 1),
        },
        targets={
            "≤ 1 ms added at p50, one-row select, through the official client (supabase-py)": _within(added, 1.0),
            "≤ 1 ms added at p50, one-row select, the gateway alone (a plain httpx client)": _within(raw_added, 1.0),
            "≥ 2,000 req/s, one-row select": "met" if rate >= 2000 else f"missed ({rate:,.0f} req/s)",
        },
        notes=[
            f"{COUNT} sequential requests per latency figure, the selects (and the inserts) taking turns request"
            " by request, so the added time is measured paired, whatever the VM's drift;"
            f" {SECONDS:.0f} s per concurrent figure; client, gateway and Postgres share the same cores.",
            "Each gateway request is one transaction in three round trips: BEGIN with set_config(role, claims, …),"
            " the statement, COMMIT.",
            "Throughput is measured with a minimal asyncio HTTP/1.1 client in its own process: the official"
            " async client (httpx) saturates a core on its own long before the gateway does.",
        ],
    )


def _within(value_ms: float, limit_ms: float) -> str:
    return "met" if value_ms <= limit_ms else f"missed ({value_ms:.2f} ms)"
