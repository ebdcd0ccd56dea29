"""The project's `supabase/config.toml`, read as the Supabase CLI reads it, with the CLI's defaults.

Only the settings the devstack honours are here: Auth (site URL, redirects, sign-ups, confirmations,
anonymous sign-ins, email OTP, MFA, rate limits), Storage's global size limit and the mail catcher's port.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4})
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_size(value: str | int) -> int:
    """A size as the CLI writes it ("50MiB", "5MB", 1024) in bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"invalid size {value!r}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def parse_duration(value: str | int | float) -> float:
    """A Go duration ("1s", "1m30s", "500ms") in seconds."""
    if isinstance(value, int | float):
        return float(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        raise ValueError(f"invalid duration {value!r}")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class RateLimits:
    """`[auth.rate_limit]`: per IP address, per hour for emails and anonymous users, per 5 minutes else."""

    email_sent: int = 2
    anonymous_users: int = 30
    token_refresh: int = 150
    sign_in_sign_ups: int = 30
    token_verifications: int = 30


@dataclass(frozen=True)
class AuthProject:
    """`[auth]` and its `[auth.email]`, `[auth.mfa]` and `[auth.rate_limit]` sections."""

    site_url: str = "http://127.0.0.1:3000"
    additional_redirect_urls: tuple[str, ...] = ()
    jwt_expiry: int = 3600
    enable_signup: bool = True
    enable_anonymous_sign_ins: bool = False
    minimum_password_length: int = 6
    email_enable_signup: bool = True
    enable_confirmations: bool = False
    double_confirm_changes: bool = True
    secure_password_change: bool = False
    max_frequency: float = 1.0  # seconds between emails to one address
    otp_length: int = 6
    otp_expiry: int = 3600
    mfa_max_enrolled_factors: int = 10
    totp_enroll_enabled: bool = False
    totp_verify_enabled: bool = False
    rate_limit: RateLimits = field(default_factory=RateLimits)


@dataclass(frozen=True)
class Project:
    auth: AuthProject = field(default_factory=AuthProject)
    storage_file_size_limit: int = 50 * 1024 * 1024
    mail_port: int = 54324

    @classmethod
    def load(cls, path: Path) -> Project:
        """Read `config.toml`; a missing file or section gives the CLI's defaults."""
        data: dict[str, Any] = tomllib.loads(path.read_text()) if path.is_file() else {}
        return cls(
            auth=_auth(data.get("auth", {})),
            storage_file_size_limit=parse_size(data.get("storage", {}).get("file_size_limit", "50MiB")),
            mail_port=int(data.get("inbucket", {}).get("port", 54324)),
        )


def _auth(section: dict[str, Any]) -> AuthProject:
    email = section.get("email", {})
    totp = section.get("mfa", {}).get("totp", {})
    limits = section.get("rate_limit", {})
    defaults = RateLimits()
    return AuthProject(
        site_url=str(section.get("site_url", AuthProject.site_url)),
        additional_redirect_urls=tuple(section.get("additional_redirect_urls", ())),
        jwt_expiry=int(section.get("jwt_expiry", 3600)),
        enable_signup=bool(section.get("enable_signup", True)),
        enable_anonymous_sign_ins=bool(section.get("enable_anonymous_sign_ins", False)),
        minimum_password_length=int(section.get("minimum_password_length", 6)),
        email_enable_signup=bool(email.get("enable_signup", True)),
        enable_confirmations=bool(email.get("enable_confirmations", False)),
        double_confirm_changes=bool(email.get("double_confirm_changes", True)),
        secure_password_change=bool(email.get("secure_password_change", False)),
        max_frequency=parse_duration(email.get("max_frequency", "1s")),
        otp_length=int(email.get("otp_length", 6)),
        otp_expiry=int(email.get("otp_expiry", 3600)),
        mfa_max_enrolled_factors=int(section.get("mfa", {}).get("max_enrolled_factors", 10)),
        totp_enroll_enabled=bool(totp.get("enroll_enabled", False)),
        totp_verify_enabled=bool(totp.get("verify_enabled", False)),
        rate_limit=RateLimits(
            email_sent=int(limits.get("email_sent", defaults.email_sent)),
            anonymous_users=int(limits.get("anonymous_users", defaults.anonymous_users)),
            token_refresh=int(limits.get("token_refresh", defaults.token_refresh)),
            sign_in_sign_ups=int(limits.get("sign_in_sign_ups", defaults.sign_in_sign_ups)),
            token_verifications=int(limits.get("token_verifications", defaults.token_verifications)),
        ),
    )
