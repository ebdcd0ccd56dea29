"""JWTs as the Supabase CLI's stack issues and verifies them.

User access tokens are signed ES256 with the CLI's default signing key (the same fixed demo P-256 key the
CLI hands GoTrue when `auth.signing_keys_path` is unset); its public half is the JWKS at
`/auth/v1/.well-known/jwks.json`. The anon and service-role keys stay HS256 with the JWT secret.
REST, Realtime, Storage and Auth accept both algorithms, as the CLI configures them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm

# PostgREST and GoTrue accept tokens up to 30 s outside their validity window (clock skew).
CLOCK_SKEW_SECONDS = 30

# The Supabase CLI's default signing key (a public demo value, like the demo anon key: never for production).
DEMO_SIGNING_JWK: dict[str, Any] = {
    "kty": "EC",
    "kid": "b81269f1-21d8-4f2e-b719-c2240a840d90",
    "use": "sig",
    "key_ops": ["sign", "verify"],
    "alg": "ES256",
    "ext": True,
    "crv": "P-256",
    "x": "M5Sjqn5zwC9Kl1zVfUUGvv9boQjCGd45G8sdopBExB4",
    "y": "P6IXMvA2WYXSHSOMTBH2jsw_9rrzGy89FjPf6oOsIxQ",
    "d": "dIhR8wywJlqlua4y_yMq2SLhlFXDZJBCvFrY1DCHyVU",
}
_PRIVATE_KEY: Any = ECAlgorithm.from_jwk(json.dumps(DEMO_SIGNING_JWK))
_PUBLIC_KEY: Any = ECAlgorithm.from_jwk(json.dumps({k: v for k, v in DEMO_SIGNING_JWK.items() if k != "d"}))
ALGORITHMS = ("HS256", "ES256")


class TokenError(Exception):
    """The bearer token is unusable; `expired` tells an expired token from a forged or malformed one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def encode(claims: dict[str, Any], secret: str) -> str:
    """An HS256 token signed with the JWT secret (the shape of the anon and service-role keys)."""
    return jwt.encode(claims, secret, algorithm="HS256")


def sign_user(claims: dict[str, Any]) -> str:
    """A user access token: ES256 with the default signing key, its `kid` in the header, as GoTrue signs it."""
    return jwt.encode(claims, _PRIVATE_KEY, algorithm="ES256", headers={"kid": DEMO_SIGNING_JWK["kid"]})


def jwks() -> dict[str, Any]:
    """The public JWKS GoTrue serves: the signing key without its private part, for verification only."""
    public = {k: v for k, v in DEMO_SIGNING_JWK.items() if k != "d"}
    public["key_ops"] = ["verify"]
    return {"keys": [public]}


def decode(token: str, secret: str) -> dict[str, Any]:
    """Verify signature (HS256 with `secret`, or ES256 with the signing key) and time claims.

    `aud` is not checked, as in the Supabase CLI's stack.
    """
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        key: Any = _PUBLIC_KEY if algorithm == "ES256" else secret
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["ES256"] if algorithm == "ES256" else ["HS256"],
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
