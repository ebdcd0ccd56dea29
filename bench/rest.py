"""REST: a one-row select and a one-row insert through the gateway (supabase-py) vs directly with psycopg,
and a GET with a many-to-many embed vs the same JSON built by one SQL query.

Starts its own embedded Postgres and gateway subprocess, so it measures what `make dev` runs; beside it,
when `BENCH_BASELINE` (default c7a60c1, before issue 21) has another devstack, that tree's gateway over
the same database, so that the one-row select's cost is compared with it in the same run (the selects
take turns). The client shares the machine's cores with the gateway and Postgres, as a developer's
laptop would.
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
from supabase import Client, ClientOptions, acreate_client, create_client

from bench import Figure, Section, interleaved, percentile
from bench._stack import PASSWORD, SETTINGS, baseline, gateway, postgres, wait_http
from devstack.db import role_dsn
from devstack.settings import REPO_ROOT

COUNT = int(os.environ.get("BENCH_REST_COUNT", "2000"))
SECONDS = float(os.environ.get("BENCH_REST_SECONDS", "5"))
SCHEMA = """
create table public.bench_items (id int primary key, name text not null, qty int not null default 1);
alter table public.bench_items enable row level security;
create policy "Anyone reads bench items" on public.bench_items for select to anon, authenticated using (true);
create policy "Anyone adds bench items" on public.bench_items for insert to anon, authenticated with check (true);
grant select, insert on public.bench_items to anon, authenticated;
insert into public.bench_items select g, 'item ' || g, g % 7 from generate_series(1, 1000) g;
create table public.bench_products (id int primary key, name text not null);
create table public.bench_categories (id int primary key, name text not null);
create table public.bench_product_categories (
  product_id int references public.bench_products, category_id int references public.bench_categories,
  primary key (product_id, category_id));
create index on public.bench_product_categories (category_id);
grant select on public.bench_products, public.bench_categories, public.bench_product_categories to anon;
insert into public.bench_products select g, 'product ' || g from generate_series(1, 1000) g;
insert into public.bench_categories select g, 'category ' || g from generate_series(1, 50) g;
insert into public.bench_product_categories
  select p, c from generate_series(1, 1000) p, generate_series(1, 3) k, lateral (select (p * 7 + k * 13) % 50 + 1) x(c);
"""
SELECT_SQL = "select * from public.bench_items where id = %s"
LIGHT = "select 1 row, 16 concurrent connections: minimal client → gateway"
EMBED_SEQUENTIAL = "many-to-many embed, 10 rows: supabase-py → gateway"
EMBED_LIGHT = "many-to-many embed, 16 concurrent connections: minimal client → gateway"
EMBED_DIRECT = "many-to-many embed, 32 concurrent: asyncpg pool of 8, direct (the same JSON)"
INSERT_SQL = "insert into public.bench_items (id, name) values (%s, %s) returning *"
# Ten products with their three categories each, through the join table: as PostgREST answers
# `select=id,name,bench_categories(id,name)&id=lte.10&order=id`, and as one would write it in SQL.
EMBED_PATH = "/rest/v1/bench_products?select=id,name,bench_categories(id,name)&id=lte.10&order=id"
EMBED_SQL = """
select coalesce(json_agg(json_build_object('id', p.id, 'name', p.name, 'bench_categories', (
  select coalesce(json_agg(json_build_object('id', c.id, 'name', c.name)), '[]')
  from public.bench_product_categories pc join public.bench_categories c on c.id = pc.category_id
  where pc.product_id = p.id)) order by p.id), '[]')
from public.bench_products p where p.id <= 10
"""


@contextlib.contextmanager
def _gateway(dsn: str, tmp: Path, name: str = "gateway", root: Path = REPO_ROOT) -> Iterator[str]:
    """A gateway (this checkout's, or the tree at `root`), once its schema cache holds the benchmark's table."""
    with gateway(dsn, tmp, name=name, root=root) as (url, _):
        wait_http(f"{url}/rest/v1/bench_items?limit=1", headers={"apikey": SETTINGS.anon_key})
        yield url


@contextlib.contextmanager
def _baseline_gateway(dsn: str, tmp: Path) -> Iterator[tuple[str, str] | None]:
    """(ref, url) of the baseline's gateway over the same database, or None (see `baseline`)."""
    tree = baseline(tmp)
    if tree is None:
        yield None
        return
    ref, root = tree
    with _gateway(dsn, tmp, "gateway-baseline", root) as url:
        yield ref, url


def _supabase(url: str, http: httpx.Client) -> Client:
    return create_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))


def _sequential(url: str, dsn: str, base: tuple[str, str] | None) -> list[Figure]:
    http = httpx.Client(timeout=30)
    client = _supabase(url, http)
    raw = httpx.Client(headers={"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {SETTINGS.anon_key}"})
    direct = psycopg.connect(role_dsn(dsn, "postgres", PASSWORD), autocommit=True, prepare_threshold=0)
    ids = iter(range(1_000_000, 10_000_000))
    calls: list[tuple[str, Callable[[], object]]] = [
        ("select 1 row: supabase-py → gateway", lambda: client.table("bench_items").select("*").eq("id", 42).execute()),
        ("select 1 row: httpx → gateway", lambda: raw.get(f"{url}/rest/v1/bench_items?select=*&id=eq.42")),
        ("select 1 row: psycopg direct", lambda: direct.execute(SELECT_SQL, (42,)).fetchall()),
    ]
    if base is not None:
        ref, base_url = base
        base_client = _supabase(base_url, http)
        calls.append(
            (
                f"select 1 row: supabase-py → gateway of {ref}",
                lambda: base_client.table("bench_items").select("*").eq("id", 42).execute(),
            )
        )
    embed = client.table("bench_products").select("id,name,bench_categories(id,name)").lte("id", 10).order("id")
    embed_sql = direct.cursor()
    try:
        selects = interleaved(calls, COUNT)
        embeds = interleaved(
            [
                (EMBED_SEQUENTIAL, embed.execute),
                ("many-to-many embed, 10 rows: psycopg direct, the same JSON", lambda: embed_sql.execute(EMBED_SQL)),
            ],
            COUNT // 2,
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
        return [*selects, *embeds, *inserts]
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


async def _direct_async(dsn: str) -> list[Figure]:
    pool = await asyncpg.create_pool(role_dsn(dsn, "postgres", PASSWORD), min_size=8, max_size=8)
    try:
        one = await _load(
            "select 1 row, 32 concurrent: asyncpg pool of 8, direct",
            lambda: pool.fetch("select * from public.bench_items where id = $1", 42),
            32,
        )
        return [one, await _load(EMBED_DIRECT, lambda: pool.fetchval(EMBED_SQL), 32)]
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


def _light(name: str, url: str, connections: int, path: str = "/rest/v1/bench_items?select=*&id=eq.42") -> Figure:
    """Run `_hammer` in its own process, so the load generator's GIL is not the bench's."""
    port = int(url.rsplit(":", 1)[1])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        samples, elapsed = pool.apply(_hammer, (port, path, connections, SECONDS))
    return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), len(samples) / elapsed, len(samples))


def run() -> Section:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # supabase-py 2.34 passes postgrest deprecated args
        with (
            tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp,
            postgres(Path(tmp), schema=SCHEMA) as dsn,
            _gateway(dsn, Path(tmp)) as url,
            _baseline_gateway(dsn, Path(tmp)) as base,
        ):
            sequential = _sequential(url, dsn, base)
            official = asyncio.run(_official_async(url))
            light = _light(LIGHT, url, 16)
            crowd = _light("select 1 row, 200 concurrent connections: minimal client → gateway", url, 200)
            embed = _light(EMBED_LIGHT, url, 16, EMBED_PATH)
            direct = asyncio.run(_direct_async(dsn))
    return _section([*sequential, official, light, crowd, embed, *direct], base[0] if base else None)


def _section(figures: list[Figure], ref: str | None) -> Section:
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
            "many-to-many embed p50: gateway (supabase-py) / psycopg, the same JSON": by[EMBED_SEQUENTIAL].p50_ms
            / by["many-to-many embed, 10 rows: psycopg direct, the same JSON"].p50_ms,
            "many-to-many embed req/s: gateway (16 connections) / asyncpg direct (32 tasks)": (
                by[EMBED_LIGHT].throughput or 0
            )
            / (by[EMBED_DIRECT].throughput or 1),
        },
        targets={
            "≤ 1 ms added at p50, one-row select, through the official client (supabase-py)": _within(added, 1.0),
            "≤ 1 ms added at p50, one-row select, the gateway alone (a plain httpx client)": _within(raw_added, 1.0),
            "≥ 2,000 req/s, one-row select": "met" if rate >= 2000 else f"missed ({rate:,.0f} req/s)",
            **_baseline_target(by, ref),
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


def _baseline_target(by: dict[str, Figure], ref: str | None) -> dict[str, str]:
    """No regression from the baseline: this gateway's one-row select vs the baseline's, paired."""
    if ref is None:
        return {}
    now, then = by["select 1 row: supabase-py → gateway"], by[f"select 1 row: supabase-py → gateway of {ref}"]
    added = now.p50_ms - then.p50_ms
    verdict = "met" if added <= 0.1 else f"missed ({added:+.3f} ms)"
    return {f"no regression from {ref} at p50, one-row select through supabase-py (≤ +0.1 ms)": verdict}


def _within(value_ms: float, limit_ms: float) -> str:
    return "met" if value_ms <= limit_ms else f"missed ({value_ms:.2f} ms)"
