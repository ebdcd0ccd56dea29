"""GoTrue's rate limits (`[auth.rate_limit]`), per client IP address, answered with 429.

Each limit is a token bucket holding `count` requests that refills at `count` per window, as GoTrue's
limiters (a burst of the configured count, then the configured rate): the request after the burst
inside the window is refused with `over_request_rate_limit`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from devstack.auth import errors
from devstack.project import RateLimits

FIVE_MINUTES = 300.0
HOUR = 3600.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class Limiter:
    """Token buckets keyed by (limit, IP); `enabled = False` lets every request through."""

    limits: RateLimits
    enabled: bool = True
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def _spec(self, name: str) -> tuple[int, float]:
        if name == "anonymous_users":
            return self.limits.anonymous_users, HOUR
        if name == "email_sent":
            return self.limits.email_sent, HOUR
        return int(getattr(self.limits, name)), FIVE_MINUTES

    def allow(self, name: str, key: str | None) -> bool:
        if not self.enabled:
            return True
        count, window = self._spec(name)
        now = time.monotonic()
        bucket = self._buckets.setdefault((name, key or ""), _Bucket(float(count), now))
        bucket.tokens = min(float(count), bucket.tokens + (now - bucket.updated) * count / window)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        if len(self._buckets) > 100_000:  # forget the idle ones rather than grow without bound
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < HOUR}
        return True

    def check(self, name: str, key: str | None) -> None:
        """Raise 429 over_request_rate_limit when `key` has used up limit `name`."""
        if not self.allow(name, key):
            raise errors.ApiError(429, errors.OVER_REQUEST_RATE_LIMIT, "Request rate limit reached")
