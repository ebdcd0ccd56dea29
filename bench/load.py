"""End-to-end load: 200 simulated users (supabase-py) chatting for 2 minutes against a fake model over HTTP.

Reuses the pipeline benchmark's stack (embedded Postgres, gateway, one worker, fake Anthropic server) with
a model of 300 ms to first token and 80 tokens/s. Every user keeps a conversation going: send, wait for
`done` (or the row), read it for the pipeline benchmark's think time, send again. Reports the
pipeline-overhead percentiles, replies/s, worker and gateway CPU and RSS, and checks in the database
that nothing was lost or duplicated.

BENCH_LOAD_USERS (200) and BENCH_LOAD_SECONDS (120) tune it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings
from pathlib import Path

from bench import Figure, Section
from bench.pipeline import THINK_MS, TPS, TTFT_MS, _check, _figure, _model_times, _phases, _stack

USERS = int(os.environ.get("BENCH_LOAD_USERS", "200"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "120"))


def run() -> Section:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, _stack(Path(tmp), TTFT_MS, TPS) as stack:
            _, phase = asyncio.run(_phases(stack, USERS, [(1_000_000, SECONDS, True)]))
            timings, usage = phase.timings, phase.usage
            total, lost, dupes = asyncio.run(_check(stack.dsn))
    ttft, full = _model_times(len("Echo: message number 0 about my week"))
    figures = [
        _figure(f"insert → pending row ({USERS} users)", timings.pending),
        _figure(f"insert → first delta minus model TTFT ({USERS} users)", timings.first_delta, ttft),
        _figure(f"insert → complete minus model stream time ({USERS} users)", timings.complete, full),
        Figure(f"replies/s over {SECONDS:.0f} s, {USERS} users", 0, 0, phase.rate, timings.replies),
    ]
    return Section(
        f"End-to-end load: {USERS} supabase-py users for {SECONDS:.0f} s",
        figures,
        ratios={
            "worker CPU share of one core": usage["worker_cpu_share"],
            "worker RSS MB": usage["worker_rss_mb"],
            "gateway CPU share of one core": usage["gateway_cpu_share"],
            "gateway RSS MB": usage["gateway_rss_mb"],
            "lost replies": lost,
            "duplicate replies": dupes,
            "replies whose Broadcast done never arrived (read from the row)": timings.missed_broadcasts,
        },
        targets={"0 lost, 0 duplicates": "met" if lost == 0 and dupes == 0 else f"missed ({lost}, {dupes})"},
        notes=[
            f"model: TTFT {TTFT_MS:.0f} ms, {TPS:.0f} tokens/s (fake Anthropic SSE over HTTP); one worker process",
            f"after each reply a user waits a think time (uniform {THINK_MS / 2:.0f} to {1.5 * THINK_MS:.0f} ms);"
            " each user's first exchange is a warm-up, not counted (as in the pipeline benchmark)",
            f"{total} user messages checked in the database afterwards",
            "the simulated users run in the bench process on the same 2 cores as everything else",
        ],
    )
