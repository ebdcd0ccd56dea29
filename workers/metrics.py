"""Prometheus metrics and a tiny HTTP endpoint (`/healthz`, `/metrics`) with no extra dependency."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger("workers.metrics")

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + inner + "}"


class Metrics:
    """Counters and histograms kept in memory and rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self.histograms: dict[str, dict[tuple[tuple[str, str], ...], list[float]]] = defaultdict(dict)
        self.help: dict[str, tuple[str, str]] = {}

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        self.help.setdefault(name, ("counter", name.replace("_", " ")))
        key = tuple(sorted(labels.items()))
        self.counters[name][key] = self.counters[name].get(key, 0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.help.setdefault(name, ("histogram", name.replace("_", " ")))
        key = tuple(sorted(labels.items()))
        series = self.histograms[name].setdefault(key, [0.0] * (len(BUCKETS) + 2))
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                series[i] += 1
        series[-2] += 1  # count
        series[-1] += value  # sum

    def render(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self.counters.items()):
            lines += [f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(k)} {v:g}" for k, v in sorted(series.items())]
        for name, hists in sorted(self.histograms.items()):
            lines.append(f"# TYPE {name} histogram")
            for key, values in sorted(hists.items()):
                for bound, count in zip((*BUCKETS, "+Inf"), (*values[: len(BUCKETS)], values[-2]), strict=True):
                    lines.append(f"{name}_bucket{_labels((*key, ('le', str(bound))))} {count:g}")
                lines.append(f"{name}_count{_labels(key)} {values[-2]:g}")
                lines.append(f"{name}_sum{_labels(key)} {values[-1]:g}")
        return "\n".join(lines) + "\n"


async def serve_http(host: str, port: int, metrics: Metrics, healthy: Callable[[], bool]) -> asyncio.Server:
    """Serve GET /healthz (200 or 503) and GET /metrics on host:port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            path = request.split(b" ", 2)[1].decode(errors="replace") if request.count(b" ") >= 2 else "/"
            if path == "/metrics":
                status, body, ctype = "200 OK", metrics.render(), "text/plain; version=0.0.4"
            elif path == "/healthz":
                ok = healthy()
                status = "200 OK" if ok else "503 Service Unavailable"
                body, ctype = ('{"status":"ok"}' if ok else '{"status":"unhealthy"}'), "application/json"
            else:
                status, body, ctype = "404 Not Found", "not found\n", "text/plain"
            data = body.encode()
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + data)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("metrics endpoint listening", extra={"host": host, "port": server.sockets[0].getsockname()[1]})
    return server
