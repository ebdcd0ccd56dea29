"""One exception hierarchy: library errors are translated at the edge into transient or permanent."""

from __future__ import annotations


class CoachbaseError(Exception):
    """Base of every error coachbase raises on purpose."""


class TransientError(CoachbaseError):
    """Worth retrying later (rate limits, overload, timeouts, broken streams, 5xx)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(CoachbaseError):
    """Retrying cannot help (bad request, auth, invalid payload); the work fails with this reason."""


class ConfigurationError(PermanentError):
    """Settings are missing or unsafe."""
