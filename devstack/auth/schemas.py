"""Request bodies of the Auth endpoints and GoTrue's validation of emails, phones, PKCE and durations.

Bodies decode like Go's json.Unmarshal into GoTrue's param structs: unknown keys are ignored, `null`
means the zero value and a value of the wrong type is an error (strict mode, no coercion).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from devstack.auth import errors

# badoux/checkmail's format check, which GoTrue's validateEmail uses.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_E164 = re.compile(r"^[1-9][0-9]{1,14}$")
_CODE_CHALLENGE = re.compile(r"^[a-zA-Z._~0-9-]+$")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
PKCE_METHODS = ("s256", "plain")


class Params(BaseModel):
    """Base of the request bodies: strict types, unknown keys ignored, `null` as the zero value."""

    model_config = ConfigDict(extra="ignore", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_zero(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class SignupParams(Params):
    email: str = ""
    phone: str = ""
    password: str = ""
    data: dict[str, Any] | None = None
    channel: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


class PasswordGrantParams(Params):
    email: str = ""
    phone: str = ""
    password: str = ""


class RefreshTokenGrantParams(Params):
    refresh_token: str = ""


class PKCEGrantParams(Params):
    auth_code: str = ""
    code_verifier: str = ""


class UserUpdateParams(Params):
    email: str = ""
    password: str | None = None
    nonce: str = ""
    data: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    phone: str = ""
    channel: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


class AdminUserParams(Params):
    id: str = ""
    aud: str = ""
    role: str = ""
    email: str = ""
    phone: str = ""
    password: str | None = None
    password_hash: str = ""
    email_confirm: bool = False
    phone_confirm: bool = False
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    ban_duration: str = ""


class AdminDeleteParams(Params):
    should_soft_delete: bool = False


def validate_email(email: str) -> str:
    """GoTrue's validateEmail: required, at most 255 characters, checkmail's format; lower-cased."""
    if not email:
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is required")
    if len(email) > 255:
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is too long")
    if not _EMAIL.match(email):
        raise errors.bad_request(errors.VALIDATION_FAILED, "Unable to validate email address: invalid format")
    return email.lower()


def validate_phone(phone: str) -> str:
    """GoTrue's validatePhone: strip `+` and spaces, then require E.164 digits."""
    formatted = phone.removeprefix("+").replace(" ", "")
    if not _E164.match(formatted):
        raise errors.bad_request(errors.VALIDATION_FAILED, "Invalid phone number format (E.164 required)")
    return formatted


def validate_pkce(method: str, challenge: str) -> None:
    """Both or neither of code_challenge/code_challenge_method; RFC 7636 shape of the challenge."""
    if bool(challenge) != bool(method):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "PKCE flow requires code_challenge_method and code_challenge"
        )
    if not challenge:
        return
    if not 43 <= len(challenge) <= 128:
        raise errors.bad_request(errors.VALIDATION_FAILED, "code challenge has to be between 43 and 128 characters")
    if not _CODE_CHALLENGE.match(challenge):
        raise errors.bad_request(
            errors.VALIDATION_FAILED,
            "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes",
        )
    if method.lower() not in PKCE_METHODS:
        raise errors.bad_request(errors.VALIDATION_FAILED, f'unsupported code_challenge method "{method}"')


def parse_ban_duration(value: str) -> float | None:
    """Seconds of a Go duration ("24h", "1h30m"); "none" lifts a ban (0). None when no ban change."""
    if not value:
        return None
    if value == "none":
        return 0.0
    text, sign = value, 1.0
    if text[:1] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    parts = _DURATION_PART.findall(text)
    if text == "0":
        return 0.0
    if not parts or "".join(n + u for n, u in parts) != text or any(n in ("", ".") for n, _ in parts):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f'invalid format for ban duration: time: invalid duration "{value}"'
        )
    return sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


class OtpParams(Params):
    email: str = ""
    phone: str = ""
    data: dict[str, Any] | None = None
    create_user: bool = True
    channel: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


class RecoverParams(Params):
    email: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


class ResendParams(Params):
    type: str = ""
    email: str = ""
    phone: str = ""


class VerifyParams(Params):
    type: str = ""
    token: str = ""
    token_hash: str = ""
    email: str = ""
    phone: str = ""
    redirect_to: str = ""


class InviteParams(Params):
    email: str = ""
    data: dict[str, Any] | None = None


class GenerateLinkParams(Params):
    type: str = ""
    email: str = ""
    new_email: str = ""
    password: str = ""
    data: dict[str, Any] | None = None
    redirect_to: str = ""


class FactorEnrollParams(Params):
    factor_type: str = ""
    friendly_name: str = ""
    issuer: str = ""
    phone: str = ""


class FactorVerifyParams(Params):
    challenge_id: str = ""
    code: str = ""


def check_user_metadata(data: dict[str, Any] | None, limit: int) -> None:
    """Bound user_metadata: it is copied into every access token, which must not grow to megabytes."""
    if data is None:
        return
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > limit:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f"user_metadata is too large: {size} bytes, at most {limit} bytes are allowed"
        )
