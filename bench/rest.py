"""REST: a one-row select and a one-row insert through the gateway (supabase-py) vs directly with psycopg.

Starts its own embedded Postgres and gateway subprocess, so it measures what `make dev` runs. The
client shares the machine's cores with the gateway and Postgres, as a developer's laptop would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import psycopg
from supabase import ClientOptions, acreate_client, create_client

from bench import Figure, Section, latency, percentile
from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.settings import REPO_ROOT, DevstackSettings

SETTINGS = DevstackSettings(_env_file=None)
PASSWORD = SETTINGS.db_password.get_secret_value()
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
INSERT_SQL = "insert into public.bench_items (id, name) values (%s, %s) returning *"


@contextlib.contextmanager
def _postgres(tmp: Path) -> Iterator[str]:
    server = EmbeddedPostgres(tmp / "pgdata", free_port(), PASSWORD)
    server.start()
    try:
        dsn = server.dsn()
        asyncio.run(migrate.bootstrap(dsn, PASSWORD))
        asyncio.run(_execute(role_dsn(dsn, "postgres", PASSWORD), SCHEMA))
        yield dsn
    finally:
        server.stop("immediate")


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def _gateway(dsn: str, tmp: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": dsn, "DEVSTACK_API_PORT": str(port), "DEVSTACK_HOST": "127.0.0.1"}
    with (tmp / "gateway.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "gateway", "--log-level", "WARNING"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/rest/v1/bench_items?limit=1", headers={"apikey": SETTINGS.anon_key}).is_success:
                    break
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _sequential(url: str, dsn: str) -> list[Figure]:
    http = httpx.Client(timeout=30)
    client = create_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))
    raw = httpx.Client(headers={"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {SETTINGS.anon_key}"})
    direct = psycopg.connect(role_dsn(dsn, "postgres", PASSWORD), autocommit=True, prepare_threshold=0)
    ids = iter(range(1_000_000, 10_000_000))
    try:
        return [
            latency(
                "select 1 row: supabase-py → gateway",
                lambda: client.table("bench_items").select("*").eq("id", 42).execute(),
                COUNT,
            ),
            latency(
                "select 1 row: httpx → gateway", lambda: raw.get(f"{url}/rest/v1/bench_items?select=*&id=eq.42"), COUNT
            ),
            latency("select 1 row: psycopg direct", lambda: direct.execute(SELECT_SQL, (42,)).fetchall(), COUNT),
            latency(
                "insert 1 row: supabase-py → gateway",
                lambda: client.table("bench_items").insert({"id": next(ids), "name": "x"}).execute(),
                COUNT // 2,
            ),
            latency(
                "insert 1 row: psycopg direct",
                lambda: direct.execute(INSERT_SQL, (next(ids), "x")).fetchall(),
                COUNT // 2,
            ),
        ]
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


async def _concurrent(url: str, dsn: str) -> list[Figure]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        client = await acreate_client(url, SETTINGS.anon_key, ClientOptions(httpx_client=http))  # type: ignore[arg-type]
        table = client.table("bench_items")
        official = await _load(
            "select 1 row, 32 concurrent: supabase-py (async) → gateway",
            lambda: table.select("*").eq("id", 42).execute(),
            32,
        )
        headers = {"apikey": SETTINGS.anon_key, "Authorization": f"Bearer {SETTINGS.anon_key}"}
        target = f"{url}/rest/v1/bench_items?select=*&id=eq.42"
        raw = await _load("select 1 row, 32 concurrent: httpx → gateway", lambda: http.get(target, headers=headers), 32)
        crowd = await _load(
            "select 1 row, 200 concurrent clients: httpx → gateway", lambda: http.get(target, headers=headers), 200
        )
    pool = await asyncpg.create_pool(role_dsn(dsn, "postgres", PASSWORD), min_size=8, max_size=8)
    try:
        direct = await _load(
            "select 1 row, 32 concurrent: asyncpg pool of 8 direct",
            lambda: pool.fetch("select * from public.bench_items where id = $1", 42),
            32,
        )
    finally:
        await pool.close()
    return [official, raw, crowd, direct]


def run() -> Section:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # supabase-py 2.34 passes postgrest deprecated args
        with (
            tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp,
            _postgres(Path(tmp)) as dsn,
            _gateway(dsn, Path(tmp)) as url,
        ):
            figures = _sequential(url, dsn) + asyncio.run(_concurrent(url, dsn))
    gateway, direct = figures[0], figures[2]
    insert_gateway, insert_direct = figures[3], figures[4]
    added = gateway.p50_ms - direct.p50_ms
    best_rate = max(figures[5].throughput or 0, figures[6].throughput or 0)
    return Section(
        "REST (/rest/v1) vs direct SQL",
        figures,
        ratios={
            "select p50: gateway (supabase-py) / psycopg": gateway.p50_ms / direct.p50_ms,
            "select p50 added by gateway + client (ms)": added,
            "select p50 added by gateway, httpx client (ms)": figures[1].p50_ms - direct.p50_ms,
            "insert p50: gateway (supabase-py) / psycopg": insert_gateway.p50_ms / insert_direct.p50_ms,
            "select req/s: gateway (httpx, 32 conc.) / asyncpg direct": (figures[6].throughput or 0)
            / (figures[8].throughput or 1),
        },
        targets={
            "≤ 1 ms added at p50, one-row select (supabase-py)": "met" if added <= 1 else f"missed ({added:.2f} ms)",
            "≥ 2,000 req/s, one-row select": "met" if best_rate >= 2000 else f"missed ({best_rate:,.0f} req/s)",
        },
        notes=[
            f"{COUNT} sequential requests per latency figure, {SECONDS:.0f} s per concurrent figure;"
            " client, gateway and Postgres share the same cores.",
            "Each gateway request is one transaction: BEGIN, set_config(role, claims, …), the statement, COMMIT.",
        ],
    )
