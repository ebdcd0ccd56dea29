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


def latency(name: str, call: Callable[[], object], count: int, warmup: int = 200) -> Figure:
    """Run `call` sequentially and report its p50/p99 (ms) and the sequential rate."""
    for _ in range(warmup):
        call()
    samples = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), count / elapsed, count)
