"""The job queue as workers see it: the service_role-only SQL functions, called over PostgREST RPC.

The calls go straight through aiohttp (shared/http.py `ServiceCalls`), not supabase-py's query builder: a
POST of the parameters to /rest/v1/rpc/<function>, the answer's JSON back, and PostgREST's error body
({code, message, details, hint}) read for its code. The supabase-py client stays for what the workers do
besides (Storage, Auth admin).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, NamedTuple

from supabase import AsyncClient

from shared.errors import CoachbaseError, PermanentError, TransientError
from shared.http import ServiceCalls
from shared.models import Job

log = logging.getLogger("workers.queue")


class LeaseLost(CoachbaseError):
    """Another worker took the job over (our lease expired): drop it, write nothing more."""


def error_for(code: str, message: str, what: str) -> CoachbaseError:
    """A database error (SQLSTATE or PostgREST code) → our kind: lease lost, worth retrying, or not."""
    if code == "PT409":
        return LeaseLost(f"{what}: {message}")
    # PGRST000-003: PostgREST could not reach Postgres, lost it, is loading its schema cache, or timed out
    # waiting for a pooled connection (504 under load).
    if code.startswith(("08", "53", "57", "40")) or code in ("PGRST000", "PGRST001", "PGRST002", "PGRST003"):
        return TransientError(f"{what}: {code} {message}")
    return PermanentError(f"{what}: {code} {message}")


def outcomes(answer: object, what: str) -> dict[int, Exception | None]:
    """A per-job answer ({"<job id>": null | {"code", "message"}}) → None or the error that refused each."""
    result: dict[int, Exception | None] = {}
    for key, error in (answer if isinstance(answer, dict) else {}).items():
        result[int(key)] = (
            error_for(str(error.get("code", "")), str(error.get("message", "")), f"{what} {key}")
            if isinstance(error, dict)
            else None
        )
    return result


def refusal(status: int, body: bytes, what: str) -> CoachbaseError:
    """An RPC's error answer → our kind: by PostgREST's error code when the body has one (error_for), else
    by the HTTP status (a proxy's or load balancer's 429, 502, 503 or 504 is worth retrying). A 502, 503
    or 504 is worth retrying whatever code it carries: PostgREST's for them are all about reaching
    Postgres."""
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    text = body[:200].decode("utf-8", "replace")
    if isinstance(error, dict) and error.get("code") and status not in (502, 503, 504):
        return error_for(str(error["code"]), str(error.get("message", "")), what)
    if status in (429, 502, 503, 504):
        return TransientError(f"{what}: HTTP {status} {text}")
    return PermanentError(f"{what}: HTTP {status} {text}")


@dataclass(frozen=True)
class Snapshot:
    """Which transactions a Postgres snapshot sees: pg_snapshot's text form, `xmin:xmax:xip,...`."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, text: object) -> Snapshot | None:
        if not isinstance(text, str):
            return None
        try:
            xmin, xmax, running = text.split(":")
            return cls(int(xmin), int(xmax), frozenset(int(xid) for xid in running.split(",") if xid))
        except ValueError:
            return None

    def sees(self, xid: int) -> bool:
        """Whether the snapshot sees what committed transaction `xid` wrote (pg_visible_in_snapshot)."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.running)


class Claimed(NamedTuple):
    """A claim's answer: the raw job rows, each finished id's outcome (None or the error that refused it),
    and the snapshot taken before it looked for due jobs (None when it looked for none)."""

    jobs: list[dict[str, Any]]
    finished: dict[int, Exception | None]
    snapshot: Snapshot | None = None


class JobQueue:
    def __init__(self, client: AsyncClient, worker_id: str, rest: ServiceCalls) -> None:
        self.client = client  # Storage and Auth admin (supabase-py); RPCs go through `rest`
        self.worker_id = worker_id
        self.rest = rest

    async def rpc(self, function: str, params: dict[str, Any]) -> Any:
        """The function's JSON answer (None for a void one); raises LeaseLost, TransientError or PermanentError."""
        status, body = await self.rest.post(f"/rpc/{function}", params)
        if status >= 400:
            raise refusal(status, body, function)
        try:
            return json.loads(body) if body else None
        except ValueError as exc:  # not PostgREST's answer (a proxy's page, say)
            raise PermanentError(f"{function}: HTTP {status}, not JSON: {body[:200]!r}") from exc

    async def claim(
        self, kinds: list[str], limit: int, lease_seconds: int, finish: list[dict[str, Any]] | None = None
    ) -> Claimed:
        """Finish the jobs in `finish` (claim_jobs_v4's items), then claim up to `limit` due jobs.

        The job rows come raw: each is validated into a `Job` by the caller, so one bad row cannot hide the
        others. Each finished id gets None or the error that refused it (LeaseLost, ...)."""
        answer = await self.rpc(
            "claim_jobs_v4",
            {
                "p_worker": self.worker_id,
                "p_kinds": kinds,
                "p_limit": limit,
                "p_lease_seconds": lease_seconds,
                "p_finish": finish or [],
            },
        )
        answer = answer if isinstance(answer, dict) else {}
        return Claimed(
            list(answer.get("jobs") or []),
            outcomes(answer.get("finished"), "finishing job"),
            Snapshot.parse(answer.get("snapshot")),
        )

    async def extend(self, job: Job, lease_seconds: int) -> None:
        await self.rpc(
            "extend_job_lease_v1", {"p_job_id": job.id, "p_worker": self.worker_id, "p_lease_seconds": lease_seconds}
        )

    async def fail(self, job_id: int, error: str, *, retryable: bool, retry_after: float | None = None) -> str:
        status = await self.rpc(
            "fail_job_v1",
            {
                "p_job_id": job_id,
                "p_worker": self.worker_id,
                "p_error": error,
                "p_retryable": retryable,
                "p_retry_after": retry_after,
            },
        )
        return str(status)

    async def record_spent(self, job_id: int, usage: list[dict[str, Any]]) -> int:
        """Record the model calls an attempt made and did not commit (record_spent_calls_v1: no lease needed,
        a call already in the ledger is skipped); how many were new."""
        return int(await self.rpc("record_spent_calls_v1", {"p_job_id": job_id, "p_usage": usage}) or 0)

    async def release(self, job: Job) -> None:
        await self.rpc("release_job_v1", {"p_job_id": job.id, "p_worker": self.worker_id})
