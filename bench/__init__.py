"""Benchmarks (`make bench`): each module exposing `run() -> Section` measures one part of the stack.

Figures are latencies (p50/p99 in ms) and throughputs (req/s); a section adds the ratios that matter
(gateway vs direct SQL). Speed targets live here, not in timed tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    p50_ms: float
    p99_ms: float
    throughput: float | None = None  # requests per second
    samples: int = 0


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)  # what was aimed at → met / missed
    notes: list[str] = field(default_factory=list)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_reference_ms() -> float:
    """A fixed single-core workload's time (the best of three): this VM's speed varies over a day by up to
    half, so a section that depends on CPU states it beside its figures for runs to be compared."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i % 7
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def interleaved(calls: list[tuple[str, Callable[[], object]]], count: int, warmup: int = 200) -> list[Figure]:
    """Run each named call `count` times, one after another in turn, and report each one's p50/p99 (ms)
    and sequential rate (1 / mean latency). Taking turns call by call, the figures share every moment of
    the run: the VM's drift cannot favour one of them, and their differences are measured paired."""
    for _ in range(warmup):
        for _, call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(count):
        for own, (_, call) in zip(samples, calls, strict=True):
            t0 = time.perf_counter()
            call()
            own.append((time.perf_counter() - t0) * 1000)
    return [
        Figure(name, percentile(own, 0.5), percentile(own, 0.99), 1000 * len(own) / sum(own), len(own))
        for own, (name, _) in zip(samples, calls, strict=True)
    ]
