"""pydantic models at the worker's boundaries: jobs from the queue and their payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Job(BaseModel):
    """A row of internal.jobs as claim_jobs_v4 returns it: with its kind's context, or what stopped it."""

    model_config = ConfigDict(extra="ignore")

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    user_id: str | None = None  # whom the job works for (none: a system job)
    ordering_key: str | None = None
    dedupe_key: str | None = None
    lease_until: datetime | None = None
    created_at: datetime | None = None
    context: dict[str, Any] | None = None  # the kind's context function's result, built by the claim
    context_error: dict[str, Any] | None = None  # {code, message} when that function failed

    @property
    def is_last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts
