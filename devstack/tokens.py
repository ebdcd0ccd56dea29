"""HS256 JWTs as GoTrue issues them and PostgREST/Realtime verify them."""

from __future__ import annotations

import time
from typing import Any

import jwt

# PostgREST and GoTrue accept tokens up to 30 s outside their validity window (clock skew).
CLOCK_SKEW_SECONDS = 30


class TokenError(Exception):
    """The bearer token is unusable; `expired` tells an expired token from a forged or malformed one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def encode(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def decode(token: str, secret: str) -> dict[str, Any]:
    """Verify signature and time claims; `aud` is not checked, as in the Supabase CLI's stack."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=CLOCK_SKEW_SECONDS,
            options={"verify_aud": False, "require": []},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("JWT expired", expired=True) from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid JWT: {exc}") from exc
    return claims


def now() -> int:
    return int(time.time())
