"""Signing keys as the Supabase CLI sets them: ES256 user tokens and HS256 keys, both accepted everywhere."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devstack import tokens
from devstack.realtime.authz import verify
from tests.conftest import SETTINGS


def test_user_tokens_are_es256_with_the_cli_key_id() -> None:
    token = tokens.sign_user({"sub": "u", "role": "authenticated", "exp": tokens.now() + 60})
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": "b81269f1-21d8-4f2e-b719-c2240a840d90", "typ": "JWT"}
    public = jwt.PyJWK(tokens.jwks()["keys"][0])  # what a resource server fetches
    assert jwt.decode(token, public.key, algorithms=["ES256"])["sub"] == "u"
    assert "d" not in tokens.jwks()["keys"][0]


def test_both_algorithms_verify_and_forgeries_do_not() -> None:
    secret = SETTINGS.jwt_secret.get_secret_value()
    claims = {"sub": "u", "role": "authenticated", "exp": tokens.now() + 60}
    assert tokens.decode(tokens.sign_user(claims), secret)["sub"] == "u"
    assert tokens.decode(SETTINGS.anon_key, secret)["role"] == "anon"
    assert verify(tokens.sign_user(claims), SETTINGS)["sub"] == "u"  # Realtime's check
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": tokens.DEMO_SIGNING_JWK["kid"]})
    with pytest.raises(tokens.TokenError):
        tokens.decode(forged, secret)
    expired = tokens.sign_user({**claims, "exp": tokens.now() - 120})
    with pytest.raises(tokens.TokenError) as late:
        tokens.decode(expired, secret)
    assert late.value.expired
    # An HS256 token may not pass itself off as ES256 with the public key as the "secret", nor the reverse.
    with pytest.raises(tokens.TokenError):
        tokens.decode(jwt.encode(claims, "not-the-secret-at-all-but-32-chars!!", algorithm="HS256"), secret)
