"""Broadcast that does not come from a socket: the REST endpoint and rows inserted in realtime.messages.

REST: `POST /api/broadcast` with `{"messages": [{topic, event, payload, private?}]}`, and the per-topic
form realtime-py's `http_send` uses, `POST /api/broadcast/{topic}/events/{event}[?private=true]` whose
body is the payload (JSON, or raw bytes as application/octet-stream). Both answer 202. A private
message is sent only when the caller's claims pass the INSERT policies of realtime.messages.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack import jsonlimits
from devstack.realtime.authz import AuthError, topic_permissions, verify
from devstack.realtime.changes import Change
from devstack.realtime.session import Services

log = logging.getLogger("devstack.realtime")


class ApiMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    topic: str
    event: str
    payload: Any = None
    private: bool = False


class ApiBroadcast(BaseModel):
    messages: list[ApiMessage]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("apikey") or request.query_params.get("apikey")


# Realtime's answer to a payload over the tenant's max_payload_size_in_kb (422).
PAYLOAD_TOO_LARGE = {"errors": {"payload": ["Payload size exceeds tenant limit"]}}
BATCH_BODIES = 4  # a batch body may hold this many maximal payloads


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` bytes (never read whole into memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _size(payload: Any) -> int:
    if isinstance(payload, bytes | bytearray):
        return len(payload)
    return len(json.dumps(payload).encode())


# How long a role's "passes every policy" answer is reused (see BroadcastApi._passes_all_policies).
BYPASS_CACHE_SECONDS = 30.0


class BroadcastApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._bypass: dict[str, tuple[float, bool]] = {}

    async def batch(self, request: Request) -> Response:
        claims = self._claims(request)
        if isinstance(claims, Response):
            return claims
        limit = self.services.settings.realtime_max_payload_bytes
        raw = await _body(request, BATCH_BODIES * limit)
        if raw is None:
            return JSONResponse({"message": "Request body too large"}, 413)
        try:
            body = ApiBroadcast.model_validate(jsonlimits.loads(raw))
        except ValueError as exc:  # not JSON, too deep, or not the expected shape (ValidationError)
            errors = (
                exc.errors(include_url=False, include_context=False, include_input=False)
                if isinstance(exc, ValidationError)
                else [{"msg": str(exc)}]
            )
            return JSONResponse({"message": "Invalid broadcast payload", "errors": errors}, 400)
        if len(raw) > limit and any(_size(m.payload) > limit for m in body.messages):
            return JSONResponse(PAYLOAD_TOO_LARGE, 422)
        for message in body.messages:
            await self._send(message.topic, message.event, message.payload, message.private, claims)
        return Response(status_code=202)

    async def single(self, request: Request) -> Response:
        claims = self._claims(request)
        if isinstance(claims, Response):
            return claims
        raw = await _body(request, self.services.settings.realtime_max_payload_bytes)
        if raw is None:
            return JSONResponse(PAYLOAD_TOO_LARGE, 422)
        payload: Any = raw
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
            try:
                payload = jsonlimits.loads(raw) if raw else {}
            except ValueError:
                return JSONResponse({"message": "Invalid JSON payload"}, 400)
        private = request.query_params.get("private", "false").lower() == "true"
        topic, event = request.path_params["topic"], request.path_params["event"]
        await self._send(topic, event, payload, private, claims)
        return Response(status_code=202)

    def _claims(self, request: Request) -> dict[str, Any] | Response:
        try:
            return verify(_bearer(request), self.services.settings)
        except AuthError as exc:
            return JSONResponse({"message": exc.reason}, 401)

    async def _send(self, topic: str, event: str, payload: Any, private: bool, claims: dict[str, Any]) -> None:
        topic = topic.removeprefix("realtime:")
        if private and not await self._passes_all_policies(str(claims.get("role", "anon"))):
            pool = await self.services.admin_pool()
            permissions = await topic_permissions(pool, topic, claims, check_write=True)
            if not permissions.write:
                log.info("REST broadcast refused", extra={"topic": topic, "role": claims.get("role")})
                return
        self.services.hub.broadcast(topic, private, event, payload)

    async def _passes_all_policies(self, role: str) -> bool:
        """A role with BYPASSRLS and INSERT on realtime.messages (service_role) passes any policy.

        Asked once per BYPASS_CACHE_SECONDS instead of probing the policies in a transaction for every
        message: a worker streaming replies sends many deltas a second."""
        now = time.monotonic()
        cached = self._bypass.get(role)
        if cached is not None and now - cached[0] < BYPASS_CACHE_SECONDS:
            return cached[1]
        pool = await self.services.admin_pool()
        passes = await pool.fetchval(
            """select r.rolbypassrls and has_table_privilege(r.oid, 'realtime.messages', 'INSERT')
                 from pg_roles r where r.rolname = $1""",
            role,
        )
        self._bypass[role] = (now, bool(passes))
        return bool(passes)


def broadcast_row(services: Services, change: Change) -> None:
    """A row inserted in realtime.messages (realtime.send, realtime.broadcast_changes): broadcast it."""
    row = change.new
    if change.kind != "INSERT" or row.get("extension") != "broadcast" or not row.get("topic"):
        return
    raw = row.get("payload")
    try:
        payload = jsonlimits.loads(raw) if raw else {}
    except ValueError:
        log.warning("realtime.messages row with a payload it cannot relay", extra={"id": row.get("id")})
        return
    services.hub.broadcast(
        str(row["topic"]),
        row.get("private") == "t",
        str(row.get("event") or ""),
        payload,
        message_id=row.get("id"),
    )
