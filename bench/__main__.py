"""`python -m bench`: run every benchmark module, print one table, write markdown + JSON under bench/results/."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

from bench import Section

RESULTS = Path(__file__).resolve().parent / "results"


# The benchmarks with millisecond targets first. This VM runs slower for minutes after its cores have been
# kept busy (the first-delta overhead measured 24 ms p50 on its own and 46 ms right after the two-minute
# load benchmark, with 18 % more worker CPU per reply for the same work): the sustained-load ones go last.
ORDER = ("rest", "pipeline", "realtime", "feed", "rls", "storage", "queue", "load")


def discover() -> list[str]:
    package = Path(__file__).resolve().parent
    names = [m.name for m in pkgutil.iter_modules([str(package)]) if not m.name.startswith("_")]
    return sorted(names, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))


def markdown(sections: list[Section], cores: int) -> str:
    lines = [f"# Benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cores} cores)", ""]
    for section in sections:
        lines += [f"## {section.title}", "", "| figure | p50 ms | p99 ms | req/s |", "|---|---:|---:|---:|"]
        for f in section.figures:
            rate = f"{f.throughput:,.0f}" if f.throughput is not None else ""
            lines.append(f"| {f.name} | {f.p50_ms:.3f} | {f.p99_ms:.3f} | {rate} |")
        if section.ratios:
            lines += ["", "| ratio | value |", "|---|---:|"]
            lines += [f"| {name} | {value:.2f} |" for name, value in section.ratios.items()]
        if section.targets:
            lines += ["", "| target | result |", "|---|---|"]
            lines += [f"| {name} | {result} |" for name, result in section.targets.items()]
        lines += ["", *(f"- {note}" for note in section.notes), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("modules", nargs="*", help="benchmark modules to run (default: all)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    sections: list[Section] = []
    for name in args.modules or discover():
        module = importlib.import_module(f"bench.{name}")
        print(f"running bench.{name} …", file=sys.stderr, flush=True)
        sections.append(module.run())
    report = markdown(sections, cores)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (RESULTS / f"{stamp}.md").write_text(report)
    payload = {"cores": cores, "sections": [dataclasses.asdict(s) for s in sections]}
    (RESULTS / f"{stamp}.json").write_text(json.dumps(payload, indent=2))
    print(report)
    print(f"report: {RESULTS / stamp}.md / .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
