"""`python -m workers`: a stateless worker process. Needs SUPABASE_URL, a service-role key and an LLM key."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import uuid

import httpx
from supabase import AsyncClientOptions, acreate_client

from shared import eventloop
from shared.broadcast import Broadcaster
from shared.embeddings import Embedders
from shared.http import ServiceCalls, transport
from shared.llm.factory import make_provider
from shared.logs import setup as setup_logging
from shared.settings import WorkerSettings
from workers.housekeeping import purge_loop
from workers.kinds.base import Deps
from workers.kinds.registry import handlers
from workers.metrics import Metrics, serve_http
from workers.queue import JobQueue
from workers.runtime import Worker
from workers.safety import SafetyDecisions
from workers.wakeup import JobWakeup

log = logging.getLogger("workers")

# Connections to the REST API's RPCs (workers/queue.py). Every call of the process shares them: claims, a
# reply's tool steps, the urgent finishes (up to workers/runtime.py URGENT_CALLS at once), checkpoints. 4
# were enough for plain replies; at 50 tool-using conversations a step's request then took 3.8 ms at p50
# and 34 ms at p90 from being made to reaching the gateway, and with 16 the tool round came ~25 % sooner
# (bench agent's phase, side by side); plain replies cost the same CPU either way. The supabase-py client
# (Storage, Auth admin) holds as many of its own.
REST_CONNECTIONS = 16


async def stop_when_orphaned(parent_pid: int | None, stop: asyncio.Event, every: float = 1.0) -> None:
    """Set `stop` once this process's parent is no longer `parent_pid` (it died and we were re-parented)."""
    if parent_pid is None:
        return
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("the process that started this worker is gone; stopping", extra={"parent_pid": parent_pid})
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def run(settings: WorkerSettings) -> None:
    worker_id = settings.worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    key = settings.service_role_key.get_secret_value()
    metrics = Metrics()
    provider = make_provider(settings)
    embedders = Embedders.from_settings(*settings.embeddings_api)
    broadcaster = Broadcaster(settings.supabase_url, key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with httpx.AsyncClient(timeout=30, transport=transport(REST_CONNECTIONS)) as http:
        options = AsyncClientOptions(auto_refresh_token=False, persist_session=False, httpx_client=http)
        client = await acreate_client(settings.supabase_url, key, options=options)
        api = settings.supabase_url.rstrip("/")
        rest = ServiceCalls(f"{api}/rest/v1", key, connections=REST_CONNECTIONS, timeout=30)
        queue = JobQueue(client, worker_id, rest)
        safety = SafetyDecisions(queue)
        deps = Deps(
            provider=provider,
            broadcaster=broadcaster,
            queue=queue,
            chat_model=settings.chat_model,
            analysis_model=settings.analysis_model,
            embedders=embedders,
            delta_interval=settings.delta_interval_ms / 1000,
            checkpoint_seconds=settings.checkpoint_seconds,
            safety=safety,
        )
        worker = Worker(
            queue=queue,
            handlers=handlers(deps),
            metrics=metrics,
            concurrency=settings.concurrency,
            lease_seconds=settings.lease_seconds,
            sweep_seconds=settings.sweep_seconds,
        )
        wakeup = JobWakeup(settings.supabase_url, key, worker.nudge, on_safety=safety.decided)
        server = None
        if settings.metrics_port:
            server = await serve_http(settings.metrics_host, settings.metrics_port, metrics, lambda: worker.healthy)
        log.info("worker ready", extra={"worker": worker_id, "provider": provider.name, "url": settings.supabase_url})
        try:
            await asyncio.gather(
                worker.run(stop),
                wakeup.run(stop),
                purge_loop(queue, stop, settings.purge_seconds),
                stop_when_orphaned(settings.parent_pid, stop),
            )
        finally:
            if server is not None:
                server.close()
            with contextlib.suppress(Exception):
                await client.postgrest.aclose()
            await rest.aclose()
            await safety.aclose()
            await broadcaster.aclose()
            await provider.aclose()
            await embedders.aclose()
            log.info("worker stopped", extra={"worker": worker_id})


def main() -> int:
    try:
        settings = WorkerSettings()
    except ValueError as exc:
        print(f"coachbase worker: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    setup_logging("INFO", settings.log_format)
    eventloop.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
