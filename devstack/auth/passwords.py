"""Password hashing (bcrypt, cost 10 as GoTrue) and GoTrue's password-strength rules.

bcrypt is slow on purpose: every hash and check runs in a worker thread so the event loop keeps
serving other requests.
"""

from __future__ import annotations

import asyncio
import secrets
import string

import bcrypt

from devstack.auth import errors

BCRYPT_COST = 10  # GoTrue's bcrypt.DefaultCost
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (and bcrypt>=5 refuses) anything longer


def _hash_sync(password: str) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
    # Go's x/crypto/bcrypt writes the `$2a$` prefix; for passwords under 72 bytes it is the same
    # algorithm as `$2b$`, and GoTrue or pgcrypto verify either.
    return "$2a$" + hashed[4:] if hashed.startswith("$2b$") else hashed


def _check_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash, or a password bcrypt refuses
        return False


async def hash_password(password: str) -> str:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise errors.bad_request(errors.VALIDATION_FAILED, "bcrypt: password length exceeds 72 bytes")
    return await asyncio.to_thread(_hash_sync, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed or len(password.encode()) > MAX_PASSWORD_BYTES:
        return False
    return await asyncio.to_thread(_check_sync, password, hashed)


def is_bcrypt_hash(value: str) -> bool:
    """Whether an admin-supplied `password_hash` is a bcrypt hash GoTrue would accept."""
    parts = value.split("$")
    return (
        len(parts) == 4
        and parts[1] in ("2a", "2b", "2y")
        and parts[2].isdigit()
        and 4 <= int(parts[2]) <= 31
        and len(parts[3]) == 53
    )


def random_password() -> str:
    """What GoTrue generates when an admin creates a user without a password (64 characters)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(64))


def check_strength(password: str, min_length: int) -> None:
    """GoTrue's checkPasswordStrength: 400 when too long for bcrypt, 422 weak_password when too short."""
    size = len(password.encode())
    if size > MAX_PASSWORD_BYTES:
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters"
        )
    if size < min_length:
        raise errors.WeakPasswordError(f"Password should be at least {min_length} characters.", ["length"])


def weakness(password: str, min_length: int) -> errors.WeakPasswordError | None:
    """The weak-password notice a successful password sign-in carries (`weak_password` in the session)."""
    try:
        check_strength(password, min_length)
    except errors.WeakPasswordError as exc:
        return exc
    except errors.ApiError:
        return None
    return None
