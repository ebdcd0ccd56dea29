"""Request plumbing shared by the Auth endpoints: configuration, body limits, JSON params, bearer tokens."""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack import jsonlimits
from devstack.auth import errors
from devstack.auth.limits import Limiter
from devstack.db import Database
from devstack.mail import Mailbox
from devstack.project import AuthProject
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack.auth")

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = date(2024, 1, 1)
_BEARER = re.compile(r"^(?:B|b)earer (\S+$)")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

P = TypeVar("P", bound=BaseModel)
_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}


@dataclass(frozen=True)
class AuthConfig:
    """GoTrue's configuration as the Supabase CLI sets it from `config.toml` (auto-confirm, rotation, ES256)."""

    jwt_secret: str
    jwt_expiry: int
    issuer: str
    reuse_interval: int
    min_password_length: int
    max_body_bytes: int
    aud: str = "authenticated"
    default_role: str = "authenticated"
    admin_roles: tuple[str, ...] = ("service_role", "supabase_admin")
    flow_state_expiry: int = 300  # seconds, GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION
    project: AuthProject = field(default_factory=AuthProject)
    max_user_metadata_bytes: int = 8192
    sender: str = "admin@email.com"  # the CLI's GOTRUE_SMTP_ADMIN_EMAIL

    @classmethod
    def from_settings(cls, settings: DevstackSettings, project: AuthProject | None = None) -> AuthConfig:
        project = project or AuthProject()
        return cls(
            jwt_secret=settings.jwt_secret.get_secret_value(),
            jwt_expiry=settings.jwt_expiry,
            issuer=settings.auth_issuer,
            reuse_interval=settings.refresh_token_reuse_interval,
            min_password_length=settings.minimum_password_length,
            max_body_bytes=settings.max_body_bytes,
            project=project,
            max_user_metadata_bytes=settings.auth_max_user_metadata_bytes,
        )


@dataclass(frozen=True)
class AuthContext:
    """What every endpoint needs: the database pools, the configuration, the mail catcher and the limits."""

    db: Database
    config: AuthConfig
    mailbox: Mailbox = field(default_factory=Mailbox)
    limiter: Limiter = field(default_factory=lambda: Limiter(AuthProject().rate_limit))


@dataclass(frozen=True)
class Client:
    """Who sent the request, recorded on sessions and audit entries."""

    ip: str | None
    user_agent: str | None


def wants_2024_errors(request: Request) -> bool:
    """GoTrue's DetermineClosestAPIVersion: a valid date >= 2024-01-01 selects the newer error shape."""
    raw = request.headers.get(API_VERSION_HEADER, "")
    if not raw:
        return False
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw) >= API_VERSION_2024
    except ValueError:
        log.warning("invalid API version header, using the initial error format", extra={"value": raw[:40]})
        return False


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(payload, status_code=status, headers=headers)


def client_of(request: Request) -> Client:
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    candidate = forwarded or (request.client.host if request.client else "")
    try:
        ip: str | None = str(ipaddress.ip_address(candidate))
    except ValueError:
        ip = None
    return Client(ip=ip, user_agent=request.headers.get("user-agent") or None)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes with 413 before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise errors.ApiError(413, errors.VALIDATION_FAILED, f"Request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.ApiError(413, errors.VALIDATION_FAILED, f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_params(request: Request, model: type[P], limit: int, *, empty_ok: bool = False) -> P:
    """Decode the JSON body into `model` as Go's json.Unmarshal would: `null` is the zero value.

    Malformed JSON, a non-object or a field of the wrong type is 400 bad_json, never a 500.
    """
    body = await read_body(request, limit)
    if not body.strip():
        if empty_ok:
            return model()
        raise errors.bad_request(errors.BAD_JSON, "Could not parse request body as JSON: unexpected end of JSON input")
    try:
        data = jsonlimits.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and JsonTooDeep are ValueErrors
        raise errors.bad_request(errors.BAD_JSON, f"Could not parse request body as JSON: {exc}") from exc
    if jsonlimits.holds_nul(data):  # Postgres text and jsonb cannot hold U+0000: refused here, not a 500 there
        raise errors.bad_request(errors.BAD_JSON, "Could not parse request body as JSON: \\u0000 is not allowed")
    if data is None:
        return model()
    if not isinstance(data, dict):
        kind = _JSON_KINDS.get(type(data), "value")
        raise errors.bad_request(
            errors.BAD_JSON, f"Could not parse request body as JSON: cannot unmarshal {kind} into an object"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise errors.bad_request(
            errors.BAD_JSON, f"Could not parse request body as JSON: field {field}: {first['msg']}"
        ) from exc


def bearer_token(request: Request) -> str:
    match = _BEARER.match(request.headers.get("authorization", ""))
    if match is None:
        raise errors.ApiError(401, errors.NO_AUTHORIZATION, "This endpoint requires a Bearer token")
    return match.group(1)


def request_aud(request: Request, config: AuthConfig, claims: dict[str, Any] | None = None) -> str:
    """GoTrue's requestAud: the X-JWT-AUD header, else the token's audience, else the configured one."""
    header = request.headers.get("x-jwt-aud")
    if header:
        return header
    aud = claims_audience(claims or {})
    return aud or config.aud


def claims_audience(claims: dict[str, Any]) -> str:
    aud = claims.get("aud")
    if isinstance(aud, list):
        aud = aud[0] if aud else ""
    return aud if isinstance(aud, str) else ""
