"""Housekeeping a worker does beside its jobs: deleting finished jobs past their retention.

Every `interval` seconds (with jitter, so a fleet started together does not purge in step) the worker
asks Postgres to delete a batch of succeeded and dead jobs older than the operators' retention settings
(purge_finished_jobs_v1, 20261209000300_job_retention.sql), again at once while a batch comes back full.
Several workers purging together skip each other's rows. A failure is logged and tried at the next turn:
nothing depends on it but the table's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from workers.queue import JobQueue

log = logging.getLogger("workers.housekeeping")

BATCH = 1000
MAX_BATCHES = 20  # per turn: a backlog (a first run on an old table) is worked off over several turns


async def purge_loop(queue: JobQueue, stop: asyncio.Event, interval: float) -> None:
    """Purge finished jobs every `interval` seconds until `stop` is set (0 or less: never)."""
    if interval <= 0:
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval * random.uniform(0.5, 1.0))
        if stop.is_set():
            return
        await purge(queue)


async def purge(queue: JobQueue) -> int:
    """One turn: batches until one comes back short (or MAX_BATCHES). Returns how many jobs were deleted."""
    total = 0
    for _ in range(MAX_BATCHES):
        try:
            deleted = int(await queue.rpc("purge_finished_jobs_v1", {"p_limit": BATCH}) or 0)
        except Exception as exc:  # housekeeping never stops the worker: the next turn tries again
            log.warning("purging finished jobs failed", extra={"error": str(exc)})
            break
        total += deleted
        if deleted < BATCH:
            break
    if total:
        log.info("finished jobs purged", extra={"jobs": total})
    return total
