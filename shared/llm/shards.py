"""Spread concurrent model requests over several small HTTP clients.

httpcore's connection pool checks every idle connection's socket whenever a request starts or a
response closes (`_assign_requests_to_connections` → `has_expired` → a readability check on each
socket), so one pool holding a connection per concurrent stream costs O(streams) system calls per
request: with 100 conversations at once that housekeeping was a fifth of a busy worker's CPU (py-spy).
Clients of at most `per_client` connections keep it O(per_client): each request takes the least busy
client, and a new client is opened only when every open one is full.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Connections per client: small enough that the pool's per-request scan stays cheap, large enough that
# a worker with modest concurrency uses one client (and one keep-alive pool) for everything.
PER_CLIENT = 8


@dataclass
class _Shard(Generic[T]):
    client: T
    busy: int = 0


class Shards(Generic[T]):
    def __init__(self, make: Callable[[], T], per_client: int | None = PER_CLIENT) -> None:
        """`per_client=None`: one client for every request (a client passed in by the caller)."""
        self._make = make
        self._per_client = per_client
        self._shards: list[_Shard[T]] = []

    @contextlib.contextmanager
    def lease(self) -> Iterator[T]:
        """The least busy client, counted busy until the block ends (a stream's whole life)."""
        shard = min(self._shards, key=lambda s: s.busy, default=None)
        if shard is None or (self._per_client is not None and shard.busy >= self._per_client):
            shard = _Shard(self._make())
            self._shards.append(shard)
        shard.busy += 1
        try:
            yield shard.client
        finally:
            shard.busy -= 1

    def __len__(self) -> int:
        return len(self._shards)

    async def aclose(self, close: Callable[[T], Awaitable[object]]) -> None:
        shards, self._shards = self._shards, []
        for shard in shards:
            await close(shard.client)
